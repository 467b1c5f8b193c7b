// Shows the service's readiness (GET /readyz) and refreshes it every 10 seconds.
async function refreshHealth() {
  const cells = ["status", "database", "broker", "version"];
  try {
    const response = await fetch("/readyz", { headers: { Accept: "application/json" } });
    const body = await response.json();
    for (const name of cells) {
      const cell = document.getElementById(`health-${name}`);
      cell.textContent = body[name];
      cell.className = body[name] === "ok" || body[name] === "in-process" ? "good" : "";
    }
    document.getElementById("health-status").className = response.ok ? "good" : "bad";
  } catch (error) {
    document.getElementById("health-status").textContent = `unreachable: ${error}`;
    document.getElementById("health-status").className = "bad";
  }
}
refreshHealth();
setInterval(refreshHealth, 10000);
