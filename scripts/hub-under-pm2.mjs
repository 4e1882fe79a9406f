// The hub as `npm start` and `npm run start:cluster` run it under pm2 (node_args --import tsx).
// pm2 offers ts-node to a script named .ts and, on Node < 22.18 without ts-node, prints
// "TypeScript support unavailable" as if something were missing; given this plain module, it
// does not, and tsx still loads the hub's TypeScript.
import '../hub/node.ts'
