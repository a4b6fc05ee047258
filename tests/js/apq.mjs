// Apollo Client's own persisted-queries link against our /graphql (tests/test_graphql_apq.py).
//
//   node apq.mjs <graphql url> <bearer token> <GET|POST> <operation name>
//
// Runs `query <operation name> { me { balance { amount } } }` twice with fresh caches through
// PersistedQueryLink -> HttpLink, as a browser app would (hashed queries over GET or POST),
// and prints one JSON line: every HTTP request the link made (method, whether it carried the
// query text and the hash, the status) and the data of each run. The first run must be a
// "not found" then a registration; the second the hash alone.
import { createHash } from "node:crypto";

import { ApolloClient, ApolloLink, HttpLink, InMemoryCache, gql } from "@apollo/client";
import { PersistedQueryLink } from "@apollo/client/link/persisted-queries";

const [url, token, method, operationName] = process.argv.slice(2);
const requests = [];

async function recordingFetch(input, init) {
  const target = new URL(typeof input === "string" ? input : input.url);
  const body = init?.body ? JSON.parse(init.body) : null;
  const params = Object.fromEntries(target.searchParams);
  const sent = body ?? params;
  const extensions = typeof sent.extensions === "string" ? JSON.parse(sent.extensions) : sent.extensions;
  const response = await fetch(input, init);
  requests.push({
    method: init?.method ?? "GET",
    query: Boolean(sent.query),
    hash: extensions?.persistedQuery?.sha256Hash ?? null,
    status: response.status,
  });
  return response;
}

function client() {
  const persisted = new PersistedQueryLink({
    sha256: (text) => createHash("sha256").update(text).digest("hex"),
    useGETForHashedQueries: method === "GET",
  });
  const http = new HttpLink({
    uri: url,
    fetch: recordingFetch,
    headers: { authorization: `Bearer ${token}` },
  });
  return new ApolloClient({
    link: ApolloLink.from([persisted, http]),
    cache: new InMemoryCache(),
  });
}

const QUERY = gql(`query ${operationName} { me { balance { amount } } }`);
const runs = [];
for (let i = 0; i < 2; i++) {
  const { data, error } = await client().query({ query: QUERY, fetchPolicy: "network-only" });
  runs.push({ data: data ?? null, error: error ? String(error) : null });
}
console.log(JSON.stringify({ requests, runs }));
