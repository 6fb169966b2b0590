/// <reference types="vitest/config" />
import { defineConfig } from "vite";
import react from "@vitejs/plugin-react";

// The app is served under /app/ (the local API server's static route; the same prefix on
// CloudFront) so its client-side routes never collide with the API's own paths.
export default defineConfig({
  base: "/app/",
  // amazon-cognito-identity-js (SRP sign-in, a lazy chunk) brings buffer@4, which reads Node's
  // `global`; in the browser that is globalThis
  define: { global: "globalThis" },
  plugins: [react()],
  build: { outDir: "dist", sourcemap: false, chunkSizeWarningLimit: 600 },
  test: {
    environment: "jsdom",
    setupFiles: ["./src/test/setup.ts"],
    include: ["src/**/*.test.{ts,tsx}"],
    pool: "threads",
    maxWorkers: 1,
  },
});
