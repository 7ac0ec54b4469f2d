/**
 * A small `io_lib:format/2`: `~p ~P ~w ~W ~s ~n ~~ ~c ~d ~b ~i ~a ~e ~f ~g`, with no field
 * widths beyond ignoring digits. Pure; `undefined` means `badarg` (as `io:format` raises).
 * @internal
 */
import * as T from "@effect-otp/process/Term"

/** Pids, refs and ports print as `local` (the node doing the output) prints them. @internal */
export const formatIo = (fmt: T.Term, args: T.Term, local?: T.LocalNode): string | undefined => {
  const text = fmt instanceof T.Atom ? fmt.name : T.toText(fmt)
  if (text === undefined || !Array.isArray(args)) return undefined
  const list = args as ReadonlyArray<T.Term>
  let out = ""
  let next = 0
  const take = (): T.Term | undefined => next < list.length ? list[next++] : undefined
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!
    if (c !== "~") {
      out += c
      continue
    }
    i++
    // skip field width / precision / padding and modifiers (t, l)
    while (i < text.length && /[0-9.*\-tl]/.test(text[i]!)) i++
    const d = text[i]
    switch (d) {
      case "~":
        out += "~"
        break
      case "n":
        out += "\n"
        break
      case "p":
      case "w": {
        const a = take()
        if (a === undefined) return undefined
        out += T.formatWith(a, local)
        break
      }
      case "P":
      case "W": {
        const a = take()
        if (a === undefined || take() === undefined) return undefined
        out += T.formatWith(a, local)
        break
      }
      case "s": {
        const a = take()
        if (a === undefined) return undefined
        const s = a instanceof T.Atom ? a.name : T.toText(flatten(a))
        if (s === undefined) return undefined
        out += s
        break
      }
      case "a": {
        const a = take()
        if (!(a instanceof T.Atom)) return undefined
        out += a.name
        break
      }
      case "c": {
        const a = take()
        // a character: io_lib raises badarg for anything else (String.fromCodePoint would throw)
        if (typeof a !== "number" || !Number.isInteger(a) || a < 0 || a > 0x10ffff) return undefined
        out += String.fromCodePoint(a)
        break
      }
      case "d":
      case "b":
      case "B": {
        const a = take()
        if (!T.isInteger(a)) return undefined
        out += d === "d" ? a.toString() : a.toString(2)
        break
      }
      case "e":
      case "f":
      case "g": {
        const a = take()
        const v = a instanceof T.Float ? a.value : typeof a === "number" ? a : undefined
        if (v === undefined) return undefined
        out += d === "e" ? v.toExponential(5) : d === "f" ? v.toFixed(6) : String(v)
        break
      }
      case "i":
        if (take() === undefined) return undefined
        break
      default:
        return undefined
    }
  }
  return next === list.length ? out : undefined
}

/**
 * iolists / deep charlists to a flat list or binary that `toText` understands. Iterative:
 * an iolist built by appending (`[Acc, More]`) is as deep as it is long.
 */
const flatten = (t: T.Term): T.Term => {
  if (!Array.isArray(t)) return t
  const codes: Array<number> = []
  // a stack of [list, next index]
  const stack: Array<[ReadonlyArray<T.Term>, number]> = [[t as ReadonlyArray<T.Term>, 0]]
  while (stack.length > 0) {
    const top = stack[stack.length - 1]!
    if (top[1] >= top[0].length) {
      stack.pop()
      continue
    }
    const x = top[0][top[1]++]!
    if (typeof x === "number") codes.push(x)
    else if (x instanceof Uint8Array) {
      const s = T.toText(x)
      if (s === undefined) return t
      for (const ch of s) codes.push(ch.codePointAt(0)!)
    } else if (Array.isArray(x)) stack.push([x as ReadonlyArray<T.Term>, 0])
    else return t
  }
  return codes
}

/** The characters of an io_request `put_chars` argument. @internal */
export const charsText = (t: T.Term): string | undefined => T.toText(flatten(t))
