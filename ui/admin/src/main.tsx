import "./style.css";
import { render } from "preact";
import { useEffect, useState } from "preact/hooks";
import { get, onUnauthorized, post } from "./api";
import { leaveOK } from "./ui";
import { Login } from "./Login";
import { Streams } from "./Streams";
import { Recordings } from "./Recordings";
import { Settings } from "./Settings";
import { Hooks } from "./Hooks";
import { Retention } from "./Retention";
import { Uploads } from "./Uploads";
import { ServerPage } from "./Server";

const pages = [
  { id: "streams", title: "Streams", view: Streams },
  { id: "recordings", title: "Recordings", view: Recordings },
  { id: "settings", title: "Settings", view: Settings },
  { id: "retention", title: "Retention", view: Retention },
  { id: "hooks", title: "Hooks", view: Hooks },
  { id: "uploads", title: "Uploads", view: Uploads },
  { id: "server", title: "Server", view: ServerPage },
];

// Below 600 px every table row is shown as a card (style.css); each cell then carries its column's
// name, copied from the table head, so a card's fields stay labelled whatever the page renders.
function labelCells(root: HTMLElement) {
  root.querySelectorAll<HTMLTableElement>("table.grid-table").forEach((t) => {
    // A sortable column's head says its name in data-label (its text has the sort arrow too).
    const heads = Array.from(t.tHead?.rows[0]?.cells || []).map((c) => (c.dataset.label ?? c.textContent ?? "").trim());
    Array.from(t.tBodies).forEach((b) =>
      Array.from(b.rows).forEach((r) =>
        Array.from(r.cells).forEach((c, i) => {
          const label = heads[i] || "";
          if (c.getAttribute("data-label") !== label) c.setAttribute("data-label", label);
        }),
      ),
    );
  });
}

function route(): string {
  const id = location.hash.replace(/^#\/?/, "").split("?")[0];
  return pages.some((p) => p.id === id) ? id : "streams";
}

function App() {
  const [auth, setAuth] = useState<"checking" | "in" | "out">("checking");
  const [version, setVersion] = useState("");
  const [page, setPage] = useState(route());
  const [menu, setMenu] = useState(false); // the navigation, opened by the menu button on narrow screens

  useEffect(() => {
    onUnauthorized(() => setAuth("out"));
    get("/session")
      .then((s) => {
        setVersion(s.version || "");
        setAuth("in");
      })
      .catch(() => setAuth("out"));
    let at = location.hash;
    const onHash = () => {
      // A page with unsaved edits may keep the user (Settings): the address goes back.
      if (!leaveOK()) {
        history.replaceState(null, "", at);
        return;
      }
      at = location.hash;
      setPage(route());
      setMenu(false);
    };
    window.addEventListener("hashchange", onHash);
    const app = document.getElementById("app")!;
    const cells = new MutationObserver(() => labelCells(app));
    cells.observe(app, { childList: true, subtree: true, characterData: true });
    return () => {
      window.removeEventListener("hashchange", onHash);
      cells.disconnect();
    };
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
    <div class={`layout${menu ? " menu-open" : ""}`}>
      <nav class="side" aria-label="Dashboard">
        <div class="brand">
          <span class="dot" aria-hidden="true" />
          streamrec
          <button
            class="menu-button"
            aria-label="Menu"
            aria-expanded={menu}
            aria-controls="nav-items"
            onClick={() => setMenu(!menu)}
          >
            <span aria-hidden="true">{menu ? "×" : "☰"}</span>
          </button>
        </div>
        <ul id="nav-items">
          {pages.map((p) => (
            <li key={p.id}>
              <a
                href={`#/${p.id}`}
                class={p.id === page ? "active" : ""}
                aria-current={p.id === page ? "page" : undefined}
                // the current page's link changes no address: the menu closes here
                onClick={() => p.id === page && setMenu(false)}
              >
                {p.title}
              </a>
            </li>
          ))}
        </ul>
        <div class="side-foot" id="nav-foot">
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
