import { StrictMode } from "react";
import { createRoot } from "react-dom/client";
import { loadConfig } from "./lib/config";
import { App } from "./App";
import "./styles.css";

const root = createRoot(document.getElementById("root")!);
loadConfig()
  .then(() => root.render(<StrictMode><App /></StrictMode>))
  .catch((error: Error) => root.render(<main><h1>Cannot start</h1><p role="alert">{error.message}</p></main>));
