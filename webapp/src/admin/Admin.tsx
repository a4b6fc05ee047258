// The operator console (admins only; the server refuses everyone else with FORBIDDEN anyway).
export function Admin({ pathname }: { pathname: string }) {
  return (
    <section>
      <h1>Console</h1>
      <p>{pathname}</p>
    </section>
  );
}
