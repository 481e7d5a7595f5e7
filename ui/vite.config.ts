// Builds the two pages into static/ (embedded into the Go binary by package static):
//   vite build -c ui/vite.config.ts --mode demo   -> static/demo   (served at / and /client/demo/)
//   vite build -c ui/vite.config.ts --mode admin  -> static/admin  (served at /admin/)
// `npm run build` runs both after a type check. Every .js/.css/.html/.svg file also gets a .gz
// twin that the server sends to browsers that take gzip.
import { defineConfig, type Plugin } from "vite";
import { gzipSync } from "node:zlib";
import { readdirSync, readFileSync, writeFileSync, statSync } from "node:fs";
import { join, resolve } from "node:path";

const root = resolve(import.meta.dirname);
const out = (name: string) => resolve(root, "..", "static", name);

function gzipTwins(dir: string): Plugin {
  return {
    name: "gzip-twins",
    apply: "build",
    closeBundle() {
      const walk = (d: string) => {
        for (const e of readdirSync(d)) {
          const p = join(d, e);
          if (statSync(p).isDirectory()) walk(p);
          else if (/\.(js|css|html|svg)$/.test(e) && statSync(p).size > 1024)
            writeFileSync(p + ".gz", gzipSync(readFileSync(p), { level: 9 }));
        }
      };
      walk(dir);
    },
  };
}

export default defineConfig(({ mode }) => {
  const page = mode === "admin" ? "admin" : "demo";
  return {
    root: resolve(root, page),
    base: page === "admin" ? "/admin/" : "/client/demo/",
    publicDir: page === "admin" ? resolve(root, "admin/public") : false,
    logLevel: "warn",
    esbuild: { jsx: "automatic", jsxImportSource: "preact" },
    build: {
      outDir: out(page),
      emptyOutDir: true,
      target: "es2020",
      assetsInlineLimit: 0,
      modulePreload: { polyfill: false },
      reportCompressedSize: false,
    },
    plugins: [gzipTwins(out(page))],
  };
});
