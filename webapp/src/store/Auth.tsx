// Sign up, sign in, and the email confirmation link (/verify-email?token=...).
import { useEffect, useState } from "preact/hooks";
import { request } from "../api";
import { explain, sentence } from "../errors";
import { LoginDocument, RegisterDocument, VerifyEmailDocument } from "../gql/graphql";
import { navigate } from "../router";
import { reloadViewer, signIn, viewer } from "../session";
import { useSignal } from "../signal";
import { ErrorLine, Field, Notice } from "../ui";

function CredentialsForm({ mode }: { mode: "signin" | "signup" }) {
  const [email, setEmail] = useState("");
  const [password, setPassword] = useState("");
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const signup = mode === "signup";

  async function submit(event: Event) {
    event.preventDefault();
    setBusy(true);
    setError(null);
    try {
      const payload = signup
        ? (await request(RegisterDocument, { email, password })).register
        : (await request(LoginDocument, { email, password })).login;
      if (payload.errors.length || !payload.token) {
        setError(sentence(payload.errors[0]?.code ?? "UNEXPECTED", payload.errors[0]?.message));
        return;
      }
      signIn(payload.token, payload.viewer ?? null);
      navigate(signup ? "/?welcome=1" : "/");
    } catch (e) {
      setError(explain(e));
    } finally {
      setBusy(false);
    }
  }

  return (
    <section class="narrow">
      <h1>{signup ? "Create your account" : "Sign in"}</h1>
      <form onSubmit={submit}>
        <Field label="Email">
          <input type="email" name="email" autoComplete="email" required value={email} onInput={(e) => setEmail(e.currentTarget.value)} />
        </Field>
        <Field label="Password" hint={signup ? "At least 8 characters." : undefined}>
          <input
            type="password"
            name="password"
            autoComplete={signup ? "new-password" : "current-password"}
            required
            minLength={8}
            value={password}
            onInput={(e) => setPassword(e.currentTarget.value)}
          />
        </Field>
        <ErrorLine text={error} />
        <button type="submit" disabled={busy}>
          {signup ? "Sign up" : "Sign in"}
        </button>
      </form>
      <p>
        {signup ? (
          <>
            Have an account? <a href="/signin">Sign in</a>
          </>
        ) : (
          <>
            New here? <a href="/signup">Create an account</a>
          </>
        )}
      </p>
    </section>
  );
}

export const SignIn = () => <CredentialsForm mode="signin" />;
export const SignUp = () => <CredentialsForm mode="signup" />;

export function VerifyEmail({ token }: { token: string }) {
  const [state, setState] = useState<"working" | "done" | string>("working");
  useEffect(() => {
    request(VerifyEmailDocument, { token })
      .then(({ verifyEmail }) => {
        if (verifyEmail.errors.length) setState(sentence(verifyEmail.errors[0].code));
        else {
          setState("done");
          reloadViewer();
        }
      })
      .catch((e) => setState(explain(e)));
  }, [token]);
  return (
    <section class="narrow">
      <h1>Confirm your email</h1>
      {state === "working" && <p aria-busy="true">Confirming…</p>}
      {state === "done" && (
        <Notice kind="ok">
          Your email is confirmed. <a href="/">See the numbers</a>.
        </Notice>
      )}
      {state !== "working" && state !== "done" && <ErrorLine text={state} />}
    </section>
  );
}

/** Shown while the signed-in email is not confirmed yet. */
export function VerifyNotice() {
  const me = useSignal(viewer);
  if (!me || me.emailVerified) return null;
  return (
    <Notice>
      We sent a confirmation link to <strong>{me.email}</strong>. Open it to confirm your email; the shop may ask
      for it before you buy.
    </Notice>
  );
}
