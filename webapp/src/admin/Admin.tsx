// The operator console at /admin: one tab per concern, each on the operations of
// frontend-contract/ (the server refuses non-admins with FORBIDDEN whatever the page shows).
import { Users } from "./Users";
import { Suppliers } from "./Suppliers";
import { Prices } from "./Prices";
import { Refunds } from "./Refunds";
import { Stats } from "./Stats";
import { Maintenance } from "./Maintenance";

const TABS = [
  ["stats", "Figures", Stats],
  ["users", "Users", Users],
  ["suppliers", "Suppliers", Suppliers],
  ["prices", "Prices", Prices],
  ["refunds", "Refund requests", Refunds],
  ["maintenance", "Maintenance", Maintenance],
] as const;

export function Admin({ pathname }: { pathname: string }) {
  const section = pathname.split("/")[2] || "stats";
  const tab = TABS.find(([key]) => key === section) ?? TABS[0];
  const View = tab[2];
  return (
    <section>
      <h1>Console: {tab[1]}</h1>
      <nav class="tabs" aria-label="Console">
        {TABS.map(([key, label]) => (
          <a key={key} href={`/admin/${key}`} aria-current={key === tab[0] ? "page" : undefined}>
            {label}
          </a>
        ))}
      </nav>
      <View />
    </section>
  );
}
