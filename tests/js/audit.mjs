// Runs graphql-http's GraphQL-over-HTTP spec audits against one endpoint.
//
//   node tests/js/audit.mjs http://127.0.0.1:8000/graphql
//
// Prints one line per audit (status, id, name, and the reason when it is not ok) and a summary.
// Exits 1 when any audit has status "error" (a MUST of the spec is broken) or throws; warnings
// and notices (SHOULD / MAY) are printed but allowed. Exit 2: wrong usage.
import { serverAudits } from 'graphql-http';

const url = process.argv[2];
if (!url || process.argv.length !== 3) {
  console.error('usage: node audit.mjs <graphql endpoint URL>');
  process.exit(2);
}

async function run(audit) {
  try {
    return await audit.fn();
  } catch (error) {
    // graphql-http throws only on fatal problems (e.g. the server is unreachable).
    return { id: audit.id, name: audit.name, status: 'error', reason: `threw: ${error}` };
  }
}

const counts = { ok: 0, notice: 0, warn: 0, error: 0 };
for (const audit of serverAudits({ url })) {
  const result = await run(audit);
  counts[result.status] += 1;
  const reason = result.status === 'ok' ? '' : ` -- ${result.reason}`;
  console.log(`${result.status.toUpperCase().padEnd(6)} ${result.id} ${result.name}${reason}`);
}
console.log(
  `summary: ${counts.ok} ok, ${counts.notice} notice, ${counts.warn} warn, ${counts.error} error`,
);
process.exit(counts.error > 0 ? 1 : 0);
