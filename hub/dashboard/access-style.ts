/**
 * The access controls' style: an action's controls are hidden unless the body has its
 * `may-<action>` class (set by hub/dashboard/browser/access.ts from whoami). The controls are
 * drawn by other code at any time; CSS catches them all.
 */
export const ACCESS_CSS = `
body:not(.may-restart) button[data-action="restart"],
body:not(.may-drain) button[data-action="drain"],
body:not(.may-resume) button[data-action="resume"],
body:not(.may-cancel-rollout) button[data-action="cancel-rollout"],
body:not(.may-rollout) #rollout-form,
body:not(.may-healing) #healing-toggle { display: none !important; }
.whoami { font-size: .9rem; color: var(--muted); margin-left: auto; }
.whoami:not([hidden]) + #sign-out { margin-left: .75rem; }
.whoami strong { color: var(--text); }
`
