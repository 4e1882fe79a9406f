/** The page's chrome: the connection state, the banner, the toast and the confirmation dialog. */
import { $, setText } from './dom.ts'

const TOAST_MS = 5000
const ERROR_TOAST_MS = 10_000
let toastTimer: ReturnType<typeof setTimeout> | undefined

export function showBanner(text: string): void {
  setText($('banner'), text)
  $('banner').hidden = false
}

export function hideBanner(): void {
  $('banner').hidden = true
}

export function toast(text: string, isError = false): void {
  const t = $('toast')
  t.className = isError ? 'toast error' : 'toast'
  setText(t, text)
  t.hidden = false
  clearTimeout(toastTimer)
  toastTimer = setTimeout(() => { t.hidden = true }, isError ? ERROR_TOAST_MS : TOAST_MS)
}

export function setConn(state: 'off' | 'connecting' | 'live' | 'down' | 'polling', text: string): void {
  const c = $('conn')
  c.className = `conn c-${state}`
  setText(c, text)
}

/** Resolves true when the operator presses Confirm; Escape or Cancel resolve false. */
export function confirmAction(title: string, detail: string): Promise<boolean> {
  const dialog = $('confirm', HTMLDialogElement)
  setText($('confirm-title'), title)
  setText($('confirm-detail'), detail)
  dialog.returnValue = ''
  dialog.showModal()
  $('confirm-ok').focus()
  return new Promise((resolve) => {
    dialog.addEventListener('close', () => resolve(dialog.returnValue === 'confirm'), { once: true })
  })
}
