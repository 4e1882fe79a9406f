/** How the dashboard writes numbers, sizes, times and ids. Pure: no DOM. */

const numberFormat = new Intl.NumberFormat('en-US')
export const collator = new Intl.Collator('en', { numeric: true })

export function formatCount(n: number): string {
  return numberFormat.format(n)
}

export function formatBytes(n: number | null | undefined): string {
  if (typeof n !== 'number' || !Number.isFinite(n) || n < 0) return '—'
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB']
  let i = 0
  while (n >= 1024 && i < units.length - 1) { n /= 1024; i++ }
  return `${i === 0 || n >= 10 ? Math.round(n) : n.toFixed(1)} ${units[i]}`
}

export function formatAgo(at: number | null | undefined, now: number): string {
  if (typeof at !== 'number') return '—'
  const s = Math.round((now - at) / 1000)
  if (s < 5) return 'just now'
  if (s < 60) return `${s} s ago`
  if (s < 3600) return `${Math.floor(s / 60)} min ago`
  if (s < 86400) return `${Math.floor(s / 3600)} h ago`
  return new Date(at).toISOString().slice(0, 10)
}

export function formatTime(at: number | null | undefined): string {
  return typeof at === 'number' ? new Date(at).toLocaleString() : ''
}

export function shortId(id: string | null | undefined): string {
  return typeof id === 'string' && id.length > 8 ? id.slice(0, 8) : (id || '—')
}
