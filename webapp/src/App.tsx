// The shell: header (balance, the live connection's state, navigation), banners, the routes.
import { useEffect, useRef, useState } from "preact/hooks";
import { request, signOutReason, socketState } from "./api";
import { MaintenanceDocument } from "./gql/graphql";
import { money } from "./format";
import { onLinkClick, useRoute } from "./router";
import { signOut, viewer } from "./session";
import { useSignal } from "./signal";
import { Notice } from "./ui";
import { Catalog } from "./store/Catalog";
import { SignIn, SignUp, VerifyEmail } from "./store/Auth";
import { TopUp } from "./store/TopUp";
import { ActivationCard } from "./store/ActivationCard";
import { History } from "./store/History";
import { Account } from "./store/Account";
import { Admin } from "./admin/Admin";

const SOCKET_TEXT = {
  off: "Offline",
  connecting: "Connecting…",
  connected: "Live",
  reconnecting: "Reconnecting…",
} as const;

export function App() {
  const me = useSignal(viewer);
  const live = useSignal(socketState);
  const reason = useSignal(signOutReason);
  const { pathname, query } = useRoute();
  const maintenance = useMaintenance();

  useEffect(() => {
    const title = document.querySelector("main h1")?.textContent;
    document.title = title ? `${title} · SMS Rooms` : "SMS Rooms";
  });
  const first = useRef(true);
  useEffect(() => {
    // A new screen: keyboard and screen-reader users start at its content, not at the old link.
    if (first.current) first.current = false;
    else document.getElementById("main")?.focus();
  }, [pathname]);

  return (
    <div class="shell" onClick={onLinkClick}>
      <a class="skip" href="#main">
        Skip to content
      </a>
      <header class="top">
        <a class="brand" href="/">
          SMS Rooms
        </a>
        <nav aria-label="Main">
          <a href="/" aria-current={pathname === "/" ? "page" : undefined}>
            Numbers
          </a>
          {me && (
            <>
              <a href="/history" aria-current={pathname === "/history" ? "page" : undefined}>
                History
              </a>
              <a href="/account" aria-current={pathname === "/account" ? "page" : undefined}>
                Account
              </a>
              {me.role === "ADMIN" && (
                <a href="/admin" aria-current={pathname.startsWith("/admin") ? "page" : undefined}>
                  Console
                </a>
              )}
            </>
          )}
        </nav>
        <div class="who">
          {me ? (
            <>
              <span class="balance">
                <span class="sr-only">Balance: </span>
                <span data-testid="balance">{money(me.balance)}</span>
              </span>
              <a href="/topup" aria-current={pathname === "/topup" ? "page" : undefined}>
                Top up
              </a>
              <span class={`socket ${live}`} role="status" data-testid="socket-state" title="Live updates">
                {SOCKET_TEXT[live]}
              </span>
              <button type="button" class="link" onClick={() => void signOut()}>
                Sign out
              </button>
            </>
          ) : (
            me === null && (
              <>
                <a href="/signin">Sign in</a>
                <a class="button" href="/signup">
                  Sign up
                </a>
              </>
            )
          )}
        </div>
      </header>
      {maintenance && (
        <Notice kind="warn">
          The shop is under maintenance{maintenance === true ? "" : `: ${maintenance}`}. Buying and topping up are paused.
        </Notice>
      )}
      {reason && !me && (
        <Notice kind="warn">
          <span data-testid="signed-out">
            {reason === "blocked"
              ? "You have been signed out: this session was ended by the shop or from another device."
              : "Your session has ended. Please sign in again."}
          </span>
        </Notice>
      )}
      <main id="main" tabIndex={-1}>
        <Route pathname={pathname} query={query} />
      </main>
      <footer>
        <small>
          Numbers for one-time SMS codes. Codes appear here the moment they arrive. <a href="/graphql">API</a>
        </small>
      </footer>
    </div>
  );
}

function Route({ pathname, query }: { pathname: string; query: URLSearchParams }) {
  const me = useSignal(viewer);
  if (pathname === "/signin") return <SignIn />;
  if (pathname === "/signup") return <SignUp />;
  if (pathname === "/verify-email") return <VerifyEmail token={query.get("token") ?? ""} />;
  if (pathname === "/") return <Catalog />;
  if (me === undefined) return <p aria-busy="true">Loading…</p>;
  if (me === null) return <SignIn />;
  if (pathname === "/topup") return <TopUp />;
  if (pathname.startsWith("/activations/")) return <ActivationCard id={decodeURIComponent(pathname.slice(13))} />;
  if (pathname === "/history") return <History />;
  if (pathname === "/account") return <Account />;
  if (pathname === "/admin" || pathname.startsWith("/admin/")) {
    if (me.role !== "ADMIN") return <Notice kind="warn">The console is for the shop's administrators.</Notice>;
    return <Admin pathname={pathname} />;
  }
  return (
    <>
      <h1>Not found</h1>
      <p>
        There is nothing here. <a href="/">See the numbers</a>.
      </p>
    </>
  );
}

/** The public maintenance switch, re-read every 30 s (the contract's advice; it is not a code). */
function useMaintenance(): string | boolean {
  const [state, setState] = useState<string | boolean>(false);
  useEffect(() => {
    const read = () =>
      request(MaintenanceDocument)
        .then(({ maintenance }) => setState(maintenance.on ? maintenance.message || true : false))
        .catch(() => {});
    void read();
    const timer = setInterval(read, 30_000);
    return () => clearInterval(timer);
  }, []);
  return state;
}
