/**
 * Building and finding the page's elements. Everything the hub sends goes in through
 * textContent, never innerHTML.
 */

/**
 * The page's element with this id, checked to be of the expected kind (default HTMLElement):
 * a renamed or missing element fails here, by name, not later as a null.
 */
export function $(id: string): HTMLElement
export function $<T extends Element>(id: string, kind: { new (): T; prototype: T }): T
export function $(id: string, kind: { new (): Element; prototype: Element } = HTMLElement): Element {
  const node = document.getElementById(id)
  if (!(node instanceof kind)) throw new Error(`dashboard: #${id} is missing or not a ${kind.name}`)
  return node
}

export function el<K extends keyof HTMLElementTagNameMap>(tag: K, className = '', text?: string | number | null): HTMLElementTagNameMap[K] {
  const node = document.createElement(tag)
  if (className) node.className = className
  if (text !== undefined && text !== null) node.textContent = String(text)
  return node
}

/** Writes only a change, so an unchanged cell costs no layout. */
export function setText(node: Node, text: string): void {
  if (node.textContent !== text) node.textContent = text
}

export function button(label: string, action: string | null, className = ''): HTMLButtonElement {
  const b = el('button', className, label)
  b.type = 'button'
  if (action) b.dataset.action = action
  return b
}

export function statusPill(status: string): HTMLSpanElement {
  const pill = el('span', `pill s-${status.replace(/[^a-z_-]/gi, '')}`)
  pill.appendChild(el('span', 'dot')).setAttribute('aria-hidden', 'true')
  pill.appendChild(document.createTextNode(status))
  return pill
}

/** The closest element matching `selector` from an event's target, if the target is an element. */
export function closestTo<T extends Element = HTMLElement>(target: EventTarget | null, selector: string): T | null {
  return target instanceof Element ? target.closest<T>(selector) : null
}
