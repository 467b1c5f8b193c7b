// Mounts a chart drawn by Observable Plot into the page, redrawn at the width it is given
// (so it fits down to tablet width), with a caption that says what it shows.

import { useEffect, useRef, useState } from "preact/hooks";

export type Draw = (width: number) => Element;

export function ChartFigure({ title, description, draw }: { title: string; description?: string; draw: Draw }) {
  const host = useRef<HTMLDivElement>(null);
  const [width, setWidth] = useState(0);

  useEffect(() => {
    const element = host.current;
    if (!element) return;
    const observer = new ResizeObserver(([entry]) => {
      const next = Math.floor(entry?.contentRect.width ?? 0);
      setWidth((previous) => (Math.abs(previous - next) > 8 ? next : previous));
    });
    observer.observe(element);
    setWidth(Math.floor(element.getBoundingClientRect().width));
    return () => observer.disconnect();
  }, []);

  useEffect(() => {
    const element = host.current;
    if (!element || width <= 0) return;
    const chart = draw(width);
    element.replaceChildren(chart);
    return () => chart.remove();
  }, [draw, width]);

  return (
    <figure class="chart">
      <figcaption>
        <span class="chart-title">{title}</span>
        {description ? <span class="chart-description">{description}</span> : null}
      </figcaption>
      <div ref={host} class="chart-body" />
    </figure>
  );
}
