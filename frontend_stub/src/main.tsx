import { render } from "preact";
import { App } from "./app";
import { captureTokenFromHash } from "./api/credentials";
import "./styles.css";

captureTokenFromHash(window.location, window.history);
render(<App />, document.getElementById("app")!);
