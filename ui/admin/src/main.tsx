import "./style.css";
import { render } from "preact";
import { useEffect, useState } from "preact/hooks";
import { get, onUnauthorized, post } from "./api";
import { Login } from "./Login";
import { Streams } from "./Streams";
import { Recordings } from "./Recordings";
import { Settings } from "./Settings";
import { Hooks } from "./Hooks";
import { Retention } from "./Retention";
import { ServerPage } from "./Server";

const pages = [
  { id: "streams", title: "Streams", view: Streams },
  { id: "recordings", title: "Recordings", view: Recordings },
  { id: "settings", title: "Settings", view: Settings },
  { id: "retention", title: "Retention", view: Retention },
  { id: "hooks", title: "Hooks", view: Hooks },
  { id: "server", title: "Server", view: ServerPage },
];

function route(): string {
  const id = location.hash.replace(/^#\/?/, "").split("?")[0];
  return pages.some((p) => p.id === id) ? id : "streams";
}

function App() {
  const [auth, setAuth] = useState<"checking" | "in" | "out">("checking");
  const [version, setVersion] = useState("");
  const [page, setPage] = useState(route());

  useEffect(() => {
    onUnauthorized(() => setAuth("out"));
    get("/session")
      .then((s) => {
        setVersion(s.version || "");
        setAuth("in");
      })
      .catch(() => setAuth("out"));
    const onHash = () => setPage(route());
    window.addEventListener("hashchange", onHash);
    return () => window.removeEventListener("hashchange", onHash);
  }, []);

  if (auth === "checking") return <div class="boot">Loading…</div>;
  if (auth === "out")
    return (
      <Login
        onIn={async () => {
          const s = await get("/session").catch(() => ({}));
          setVersion((s as any).version || "");
          setAuth("in");
        }}
      />
    );

  const current = pages.find((p) => p.id === page)!;
  const View = current.view;
  document.title = `${current.title} · streamrec`;
  return (
    <div class="layout">
      <nav class="side" aria-label="Dashboard">
        <div class="brand">
          <span class="dot" aria-hidden="true" />
          streamrec
        </div>
        <ul>
          {pages.map((p) => (
            <li key={p.id}>
              <a href={`#/${p.id}`} class={p.id === page ? "active" : ""} aria-current={p.id === page ? "page" : undefined}>
                {p.title}
              </a>
            </li>
          ))}
        </ul>
        <div class="side-foot">
          <a href="/" target="_blank" rel="noopener">
            Demo page ↗
          </a>
          <button
            class="link"
            onClick={async () => {
              await post("/logout").catch(() => {});
              setAuth("out");
            }}
          >
            Log out
          </button>
          <div class="version">{version && `version ${version}`}</div>
        </div>
      </nav>
      <main class="content">
        <View />
      </main>
    </div>
  );
}

render(<App />, document.getElementById("app")!);
