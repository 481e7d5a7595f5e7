import { useState } from "preact/hooks";
import { ApiError, post } from "./api";

export function Login({ onIn }: { onIn: () => void }) {
  const [password, setPassword] = useState("");
  const [error, setError] = useState("");
  const [busy, setBusy] = useState(false);

  const submit = async (e: Event) => {
    e.preventDefault();
    if (!password) {
      setError("Enter the password.");
      return;
    }
    setBusy(true);
    setError("");
    try {
      await post("/login", { password });
      onIn();
    } catch (err) {
      const e = err as ApiError;
      setError(e.status === 401 ? "Wrong password. Check admin.password in conf/flashphoner.properties." : e.message);
      setPassword("");
    } finally {
      setBusy(false);
    }
  };

  return (
    <div class="login-wrap">
      <form class="login" onSubmit={submit}>
        <div class="brand big">
          <span class="dot" aria-hidden="true" />
          streamrec
        </div>
        <h1>Dashboard login</h1>
        <label for="password">Password</label>
        <input
          id="password"
          type="password"
          autoFocus
          autoComplete="current-password"
          value={password}
          onInput={(e) => setPassword((e.target as HTMLInputElement).value)}
          aria-invalid={error ? "true" : undefined}
          aria-describedby="login-error"
        />
        {error && (
          <p id="login-error" class="field-error" role="alert">
            {error}
          </p>
        )}
        <button class="btn primary wide" type="submit" disabled={busy}>
          {busy ? "Checking…" : "Log in"}
        </button>
        <p class="hint">
          The password is the <code>admin.password</code> setting in <code>conf/flashphoner.properties</code>. When it is empty at
          first start, the server generates one, saves it there and prints it once in its log.
        </p>
      </form>
    </div>
  );
}
