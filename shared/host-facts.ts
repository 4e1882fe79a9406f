/**
 * Host facts (CONTRACT.md, "Install and run"): what a sidecar may say of itself at identify, so
 * the hub shows which machines run which version. Every field is optional on the wire: a
 * sidecar of an earlier version sends none, and its Agent shows `version` and `host` null.
 */
import * as v from 'valibot'

const Fact = (max: number) => v.optional(v.pipe(v.string(), v.maxLength(max)))

/** The identify frame's host-fact fields (spread into its schema). */
export const HOST_FACT_FIELDS = {
  version: Fact(64),
  node_version: Fact(64),
  hostname: Fact(255),
  platform: Fact(64),
  arch: Fact(64),
}

export interface Host {
  hostname: string | null
  platform: string | null
  arch: string | null
  node_version: string | null
}

type Facts = { [K in keyof typeof HOST_FACT_FIELDS]?: string }

/** The Agent's `version` and `host` from an identify's facts; `host` null when it sent none. */
export function hostFacts(msg: Facts): { version: string | null; host: Host | null } {
  const host: Host = {
    hostname: msg.hostname ?? null, platform: msg.platform ?? null, arch: msg.arch ?? null, node_version: msg.node_version ?? null,
  }
  const any = Object.values(host).some((x) => x !== null)
  return { version: msg.version ?? null, host: any ? host : null }
}
