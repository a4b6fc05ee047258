// History-API routing: the server answers every client route with index.html (web/ui.py).
import { signal, useSignal } from "./signal";

export const path = signal(location.pathname + location.search);

export function navigate(to: string): void {
  if (to === path.get()) return;
  history.pushState(null, "", to);
  path.set(to);
  window.scrollTo(0, 0);
}

addEventListener("popstate", () => path.set(location.pathname + location.search));

export function useRoute(): { pathname: string; query: URLSearchParams } {
  const current = useSignal(path);
  const url = new URL(current, location.origin);
  return { pathname: url.pathname, query: url.searchParams };
}

/** Links that route inside the app on a plain click and behave as links otherwise. */
export function onLinkClick(event: MouseEvent): void {
  const anchor = (event.target as Element).closest("a");
  if (!anchor || anchor.target || anchor.hasAttribute("download")) return;
  if (event.button !== 0 || event.metaKey || event.ctrlKey || event.shiftKey || event.altKey) return;
  const url = new URL(anchor.href, location.href);
  if (url.origin !== location.origin || !isClientRoute(url.pathname)) return;
  event.preventDefault();
  navigate(url.pathname + url.search);
}

export function isClientRoute(pathname: string): boolean {
  return !pathname.startsWith("/graphql") && !pathname.startsWith("/payments/");
}
