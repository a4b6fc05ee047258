// Who is signed in, kept fresh: `Me` after every change of token, the balance live through
// `BalanceChanges` while signed in.
import { closeSocket, request, setToken, signOutReason, subscribe, token, type Live } from "./api";
import { BalanceChangesDocument, LogoutDocument, MeDocument, type ViewerFieldsFragment } from "./gql/graphql";
import { signal } from "./signal";

export type Viewer = ViewerFieldsFragment;

/** undefined: not known yet; null: signed out. */
export const viewer = signal<Viewer | null | undefined>(undefined);

let balanceStream: Live | null = null;

async function refresh(): Promise<void> {
  balanceStream?.stop();
  balanceStream = null;
  if (!token.get()) {
    viewer.set(null);
    return;
  }
  try {
    const { me } = await request(MeDocument);
    viewer.set(me);
    if (!me) {
      setToken(null);
      return;
    }
    balanceStream = subscribe(
      BalanceChangesDocument,
      { after: null },
      (data) => data.balanceChanges.cursor,
      (data) => {
        const current = viewer.get();
        if (current) viewer.set({ ...current, balance: data.balanceChanges.balance });
      },
    );
  } catch {
    viewer.set(null);
  }
}

token.watch(() => void refresh());
void refresh();

export function signIn(newToken: string, who: Viewer | null): void {
  signOutReason.set(null);
  closeSocket(); // the next socket carries the new token
  if (who) viewer.set(who);
  setToken(newToken);
}

export async function signOut(): Promise<void> {
  try {
    await request(LogoutDocument);
  } catch {
    // signing out locally is what matters
  }
  closeSocket();
  setToken(null);
}

export function reloadViewer(): void {
  void refresh();
}
