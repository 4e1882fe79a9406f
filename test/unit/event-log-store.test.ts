/** The event log store conformance suite (support/event-log-store-conformance.ts) on one hub's memory log. */
import { MemoryEventLogStore } from '../../hub/events/event-log-store.ts'
import { describeEventLogStore } from '../../support/event-log-store-conformance.ts'

describeEventLogStore('memory', {
  open: async (capacity) => new MemoryEventLogStore({ capacity }),
  // Appends queue in memory: the second's turn comes only after the first's has resolved.
  waitingBehind: () => new Promise((resolve) => setTimeout(resolve, 0)),
})
