import "@testing-library/jest-dom/vitest";
import { cleanup } from "@testing-library/react";
import { afterEach } from "vitest";
import { setConfig } from "../lib/config";

setConfig({ apiUrl: "http://api.test", cognito: { endpoint: "http://idp.test", clientId: "client-1", region: "ap-south-1" }, demoUser: null });
afterEach(() => { cleanup(); sessionStorage.clear(); });
