import { StrictMode } from "react";
import { z } from "zod";
import { createRoot } from "react-dom/client";
import { loadConfig } from "./lib/config";
import { App } from "./App";
import "./styles.css";

// The served CSP has no 'unsafe-eval': zod's JIT probe (new Function) would only log a violation.
z.config({ jitless: true });

const root = createRoot(document.getElementById("root")!);
loadConfig()
  .then(() => root.render(<StrictMode><App /></StrictMode>))
  .catch((error: Error) => root.render(<main><h1>Cannot start</h1><p role="alert">{error.message}</p></main>));
