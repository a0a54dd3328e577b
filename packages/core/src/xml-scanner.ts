/**
 * The lexical half of {@link StanzaStreamParser}: an incremental scanner that checks a
 * peer's XML before ltx (`@xmpp/xml`) builds elements from it, because ltx checks almost
 * nothing. Left alone, ltx skips comments, PIs and DTDs, reads `<message b to='x'/>` as
 * `b="x"`, accepts `<1x/>`, `<message a='<'/>` and a start tag that never ends, and only
 * looks at text (and its character references) when the next `<` arrives, so whatever
 * it still holds when the input ends was never checked at all.
 *
 * The scanner reads every character of markup and fast-forwards through text and
 * attribute values, so its state always says exactly where the input stopped: between
 * stanzas, or inside a stanza, a tag, a reference or a CDATA section. It refuses, as
 * they arrive:
 *
 * - restricted XML (RFC 6120 §11.1): comments, PIs, DTDs, entity references other than
 *   the five predefined ones → `restricted-xml`; character references to a character
 *   XML 1.0 does not allow (`&#0;`, `&#xD800;`, `&#x110000;`) → `restricted-xml` too,
 *   as before (ltx threw on them, but only once it read them);
 * - tags that are not XML 1.0 (§3.1): names that are not Names, attributes without `=`
 *   or quotes, attributes not separated by whitespace, `<` in an attribute value, `/`
 *   not followed by `>`, an attribute given twice, an end tag that does not match its
 *   start tag; `]]>` in text (§2.4) → `not-well-formed`;
 * - what Namespaces in XML 1.0 forbids: names that are not QNames, prefixes not
 *   declared, `xmlns:p=''` (undeclaring a prefix is XML 1.1 only), the reserved
 *   prefixes and namespace names misused, two attributes with the same expanded name
 *   → `not-well-formed` (RFC 6120 §4.9.3.13: "violates the well-formedness rules of
 *   [XML] or [XML-NAMES]");
 * - text between stanzas other than whitespace → `not-well-formed`;
 * - nesting deeper than the limit → `policy-violation`.
 *
 * It hands on the text unchanged, except that CDATA sections are rewritten as escaped
 * text (ltx 3.1.2 drops any text that follows a CDATA section in the same element:
 * `<b><![CDATA[x]]>y</b>` parses as "x") and a `<` is held back until the next
 * character says what it starts.
 */
import type { XmlStreamErrorCondition } from "./stanza-parser.js";

type Fail = (condition: XmlStreamErrorCondition, message: string) => void;

type State =
  | "text"
  | "lt" // after '<'
  | "bang" // after '<!', matching "[CDATA["
  | "cdata"
  | "start-name"
  | "start-space" // whitespace inside a start tag: an attribute, '>' or '/>' may follow
  | "start-gap" // right after an attribute value: whitespace, '>' or '/>' must follow
  | "attr-name"
  | "attr-eq"
  | "attr-quote"
  | "attr-value"
  | "empty-close" // after '/' in a start tag
  | "end-name-start"
  | "end-name"
  | "end-gap"
  | "ref"; // after '&'

type RefKind = "start" | "hash" | "dec" | "hex" | "name";

const PREDEFINED = new Set(["amp", "lt", "gt", "quot", "apos"]);
const CDATA_OPEN = "[CDATA[";
// A run of ASCII name characters (the rest of the Name production is checked one code
// point at a time).
const ASCII_NAME = /[A-Za-z0-9_:.-]*/y;
const VALUE_STOP_APOS = /['<&]/g;
const VALUE_STOP_QUOT = /["<&]/g;
const NOT_SPACE = /[^ \t\r\n]/;
const XML_NS = "http://www.w3.org/XML/1998/namespace";
const XMLNS_NS = "http://www.w3.org/2000/xmlns/";
/** Prefix → namespace name; `xml` is bound from the start (Namespaces in XML 1.0 §3). */
type Scope = ReadonlyMap<string, string>;
const INITIAL_SCOPE: Scope = new Map([["xml", XML_NS]]);

const escapeText = (s: string) =>
  s.replace(/[&<>]/g, (c) => (c === "&" ? "&amp;" : c === "<" ? "&lt;" : "&gt;"));

const isSpace = (c: number) => c === 0x20 || c === 0x09 || c === 0x0a || c === 0x0d;

// XML 1.0 (fifth edition) §2.3 NameStartChar.
function isNameStart(c: number): boolean {
  return (
    (c >= 0x61 && c <= 0x7a) ||
    (c >= 0x41 && c <= 0x5a) ||
    c === 0x5f ||
    c === 0x3a ||
    (c >= 0xc0 && c <= 0xd6) ||
    (c >= 0xd8 && c <= 0xf6) ||
    (c >= 0xf8 && c <= 0x2ff) ||
    (c >= 0x370 && c <= 0x37d) ||
    (c >= 0x37f && c <= 0x1fff) ||
    c === 0x200c ||
    c === 0x200d ||
    (c >= 0x2070 && c <= 0x218f) ||
    (c >= 0x2c00 && c <= 0x2fef) ||
    (c >= 0x3001 && c <= 0xd7ff) ||
    (c >= 0xf900 && c <= 0xfdcf) ||
    (c >= 0xfdf0 && c <= 0xfffd) ||
    (c >= 0x10000 && c <= 0xeffff)
  );
}

// XML 1.0 §2.3 NameChar.
function isNameChar(c: number): boolean {
  return (
    isNameStart(c) ||
    c === 0x2d ||
    c === 0x2e ||
    (c >= 0x30 && c <= 0x39) ||
    c === 0xb7 ||
    (c >= 0x300 && c <= 0x36f) ||
    c === 0x203f ||
    c === 0x2040
  );
}

// XML 1.0 §2.2 Char.
function isXmlChar(c: number): boolean {
  return (
    c === 0x9 ||
    c === 0xa ||
    c === 0xd ||
    (c >= 0x20 && c <= 0xd7ff) ||
    (c >= 0xe000 && c <= 0xfffd) ||
    (c >= 0x10000 && c <= 0x10ffff)
  );
}

// A peer's name in an error message (which may go back to the peer): never all of a long one.
const shown = (name: string) => (name.length > 40 ? `${name.slice(0, 40)}…` : name);

// An attribute value whose references the scanner has checked.
function unescapeValue(raw: string): string {
  if (!raw.includes("&")) return raw;
  return raw.replace(/&(#x[0-9a-fA-F]+|#[0-9]+|[a-z]+);/g, (_, ref: string) =>
    ref[0] === "#"
      ? String.fromCodePoint(ref[1] === "x" ? Number.parseInt(ref.slice(2), 16) : Number(ref.slice(1)))
      : ({ amp: "&", lt: "<", gt: ">", quot: '"', apos: "'" } as Record<string, string>)[ref]!,
  );
}

export class RestrictedXmlScanner {
  #state: State = "text";
  /** Open elements, the stream's root first, with the prefixes in scope in each. */
  readonly #open: string[] = [];
  readonly #scopes: Scope[] = [];
  /** The name being read (tag or attribute). */
  #name = "";
  #tagName = "";
  /** The start tag's attributes so far; the (raw) value only for namespace declarations. */
  #attrs: Array<[name: string, value: string | undefined]> = [];
  #value: string | undefined;
  #quote = 0;
  #bang = 0;
  /** ']' just seen: at the end of a CDATA chunk (held back), or at the end of text. */
  #brackets = 0;
  #refKind: RefKind = "start";
  #refValue = 0;
  #refDigits = 0;
  #refName = "";
  #refReturn: "text" | "attr-value" = "text";
  #highSurrogate = "";
  #rootClosed = false;
  #failed = false;
  /**
   * Where the text or attribute value the input stopped inside begins, in the output of
   * the last `scan()`: an offset into it, -1 when it began in an earlier output, and
   * `undefined` when the input stopped elsewhere (in a tag). See {@link openRun}.
   */
  #run: number | undefined = -1;

  constructor(
    readonly maxDepth: number,
    readonly fail: Fail,
  ) {}

  /**
   * What the input was cut off inside, when it ends now (`undefined`: between stanzas or
   * before the stream's header, nothing cut off).
   */
  cutOff(): string | undefined {
    if (this.#failed || this.#rootClosed) return undefined;
    if (this.#highSurrogate) return "a character";
    switch (this.#state) {
      case "text":
        return this.#open.length > 1 ? "a stanza" : undefined;
      case "cdata":
      case "bang":
        return "a CDATA section";
      case "ref":
        return "a reference";
      case "lt":
        return "a tag";
      default:
        return this.#state.startsWith("end") ? "an end tag" : "a start tag";
    }
  }

  /**
   * Where the run of text or of an attribute value that the last output ends inside
   * begins: an offset into that output, -1 when the run began in an earlier output, or
   * `undefined` when the output ends inside a tag (or the root has closed). A '<' that
   * is held back still counts as text (it may start a CDATA section).
   *
   * ltx must not be handed such a run before its end arrives: it looks for the next '<'
   * (or closing quote) again at every character of a run that has none, so a chunk
   * ending in a long run cost time quadratic in the run's length (a 1 MiB text parsed
   * at 6 MB/s in 16 KiB slices, against 40 MB/s for small stanzas).
   */
  get openRun(): number | undefined {
    return this.#rootClosed || this.#failed ? undefined : this.#run;
  }

  /**
   * Checks `chunk` and returns what can be handed to ltx now. After a failure (reported
   * through `fail`) and after the stream's root has closed, returns "".
   */
  scan(chunk: string): string {
    if (this.#failed || this.#rootClosed) return "";
    if (this.#run !== undefined) this.#run = -1;
    let input = this.#highSurrogate + chunk;
    this.#highSurrogate = "";
    // A string write may split a surrogate pair; keep the first half for the next one.
    const last = input.charCodeAt(input.length - 1);
    if (last >= 0xd800 && last <= 0xdbff) {
      this.#highSurrogate = input.slice(-1);
      input = input.slice(0, -1);
    }
    const n = input.length;
    let out = "";
    let from = 0; // start of the run of input handed on unchanged
    let i = 0;
    // Where the next '<' and '&' are (n: none), looked up again only once passed, so that
    // a chunk of many tags and no '&' is not searched to its end at every tag.
    let lt = -1;
    let amp = -1;
    while (i < n) {
      if (this.#failed) return "";
      const c = input.charCodeAt(i);
      switch (this.#state) {
        case "text": {
          if (lt < i) lt = (input.indexOf("<", i) + n + 1) % (n + 1);
          if (amp < i) amp = (input.indexOf("&", i) + n + 1) % (n + 1);
          const end = Math.min(lt, amp);
          if (!this.#text(input.slice(i, end), false)) return "";
          if (end === n) {
            i = n;
            break;
          }
          this.#brackets = 0;
          if (input[end] === "&") {
            // Between stanzas a reference is text too, even one that stands for whitespace.
            if (this.#open.length <= 1) {
              this.#refuse("not-well-formed", "text outside a stanza");
              return "";
            }
            this.#startRef("text");
            i = end + 1;
            break;
          }
          // Held back until the next character says what it starts.
          out += input.slice(from, end);
          from = i = end + 1;
          this.#state = "lt";
          break;
        }
        case "lt": {
          if (c === 0x2f /* / */) {
            out += "<";
            this.#run = undefined;
            this.#state = "end-name-start";
            i++;
            break;
          }
          if (c === 0x21 /* ! */) {
            this.#state = "bang";
            this.#bang = 0;
            from = ++i;
            break;
          }
          if (c === 0x3f /* ? */) {
            this.#refuse("restricted-xml", "processing instructions are not allowed");
            return "";
          }
          if (!isNameStart(input.codePointAt(i)!)) {
            this.#refuse("not-well-formed", "'<' that does not start a tag");
            return "";
          }
          out += "<";
          this.#run = undefined;
          this.#name = "";
          this.#state = "start-name";
          break;
        }
        case "bang": {
          if (c !== CDATA_OPEN.charCodeAt(this.#bang)) {
            this.#refuse("restricted-xml", "comments and DTDs are not allowed");
            return "";
          }
          from = ++i;
          if (++this.#bang === CDATA_OPEN.length) {
            if (this.#open.length === 0) {
              this.#refuse("not-well-formed", "CDATA before the stream");
              return "";
            }
            this.#state = "cdata";
            this.#brackets = 0;
          }
          break;
        }
        case "cdata": {
          const held = "]".repeat(this.#brackets);
          const rest = held + input.slice(i);
          const close = rest.indexOf("]]>");
          const trailing = rest.endsWith("]]") ? 2 : rest.endsWith("]") ? 1 : 0;
          const content = rest.slice(0, close === -1 ? rest.length - trailing : close);
          if (!this.#text(content, true)) return "";
          out += escapeText(content);
          if (close === -1) {
            this.#brackets = trailing;
            from = i = n;
          } else {
            this.#brackets = 0;
            from = i = i + close + 3 - held.length;
            this.#state = "text";
          }
          break;
        }
        case "start-name":
        case "attr-name":
        case "end-name": {
          let j = i;
          while (j < n) {
            ASCII_NAME.lastIndex = j;
            ASCII_NAME.test(input);
            j = ASCII_NAME.lastIndex;
            if (j === n) break;
            const cp = input.codePointAt(j)!;
            if (cp < 0x80 || !isNameChar(cp)) break;
            j += cp > 0xffff ? 2 : 1;
          }
          this.#name += input.slice(i, j);
          i = j;
          if (i === n) break;
          const goOn = this.#nameEnded(input.charCodeAt(i));
          i++;
          if (!goOn) return this.#done(out, input, from, i);
          // `<name>` or `</name>`: text begins.
          if ((this.#state as State) === "text") this.#run = out.length + (i - from);
          break;
        }
        case "start-space":
        case "start-gap": {
          if (isSpace(c)) {
            this.#state = "start-space";
            i++;
          } else if (c === 0x3e /* > */) {
            i++;
            if (!this.#startTagEnded(false)) return this.#done(out, input, from, i);
            this.#run = out.length + (i - from);
          } else if (c === 0x2f /* / */) {
            this.#state = "empty-close";
            i++;
          } else if (this.#state === "start-space" && isNameStart(input.codePointAt(i)!)) {
            this.#name = "";
            this.#state = "attr-name";
          } else {
            this.#refuse(
              "not-well-formed",
              this.#state === "start-gap"
                ? "attributes not separated by whitespace"
                : "a malformed start tag",
            );
            return "";
          }
          break;
        }
        case "attr-eq":
        case "attr-quote": {
          if (isSpace(c)) {
            i++;
          } else if (this.#state === "attr-eq" && c === 0x3d /* = */) {
            this.#state = "attr-quote";
            i++;
          } else if (this.#state === "attr-quote" && (c === 0x22 || c === 0x27)) {
            this.#quote = c;
            this.#state = "attr-value";
            i++;
            this.#run = out.length + (i - from);
          } else {
            this.#refuse(
              "not-well-formed",
              this.#state === "attr-eq"
                ? "an attribute without a value"
                : "an attribute value without quotes",
            );
            return "";
          }
          break;
        }
        case "attr-value": {
          const stops = this.#quote === 0x27 ? VALUE_STOP_APOS : VALUE_STOP_QUOT;
          stops.lastIndex = i;
          const stop = stops.exec(input);
          const end = stop ? stop.index : n;
          if (this.#value !== undefined) this.#value += input.slice(i, stop?.[0] === "&" ? end + 1 : end);
          if (!stop) {
            i = n;
            break;
          }
          i = end + 1;
          if (stop[0] === "<") {
            this.#refuse("not-well-formed", "'<' in an attribute value");
            return "";
          }
          if (stop[0] === "&") {
            this.#startRef("attr-value");
          } else {
            this.#attrs.push([this.#name, this.#value]);
            this.#state = "start-gap";
            this.#run = undefined;
          }
          break;
        }
        case "empty-close": {
          if (c !== 0x3e /* > */) {
            this.#refuse("not-well-formed", "'/' not followed by '>' in a tag");
            return "";
          }
          i++;
          if (!this.#startTagEnded(true)) return this.#done(out, input, from, i);
          this.#run = out.length + (i - from);
          break;
        }
        case "end-name-start": {
          if (!isNameStart(input.codePointAt(i)!)) {
            this.#refuse("not-well-formed", "a malformed end tag");
            return "";
          }
          this.#name = "";
          this.#state = "end-name";
          break;
        }
        case "end-gap": {
          if (isSpace(c)) {
            i++;
          } else if (c === 0x3e /* > */) {
            i++;
            if (!this.#endTagEnded()) return this.#done(out, input, from, i);
            this.#run = out.length + (i - from);
          } else {
            this.#refuse("not-well-formed", "a malformed end tag");
            return "";
          }
          break;
        }
        case "ref": {
          if (!this.#ref(c)) return "";
          if (this.#refReturn === "attr-value" && this.#value !== undefined) this.#value += input[i];
          i++;
          break;
        }
      }
    }
    if (this.#failed) return "";
    return out + input.slice(from);
  }

  // Text between `<`s and `&`s in this chunk, or the content of a CDATA section.
  #text(text: string, cdata: boolean): boolean {
    if (text.length === 0) return true;
    if (!cdata) {
      // XML 1.0 §2.4: "]]>" may not appear in text, also when split across chunks.
      if ((this.#brackets > 0 ? "]".repeat(this.#brackets) + text : text).includes("]]>")) {
        return this.#refuse("not-well-formed", "']]>' in text");
      }
      let trailing = 0;
      while (trailing < 2 && trailing < text.length && text.charCodeAt(text.length - 1 - trailing) === 0x5d)
        trailing++;
      this.#brackets = trailing === text.length ? Math.min(2, this.#brackets + trailing) : trailing;
    }
    // Between stanzas only whitespace is allowed (RFC 6120 §4.7.4 keepalives).
    if (this.#open.length <= 1 && NOT_SPACE.test(text)) {
      return this.#refuse("not-well-formed", "text outside a stanza");
    }
    return true;
  }

  // The character `c` ended the name being read.
  #nameEnded(c: number): boolean {
    const what = this.#state === "attr-name" ? "an attribute name" : "a tag name";
    if (!this.#qName(this.#name))
      return this.#refuse("not-well-formed", `${what} that is not a qualified name`);
    switch (this.#state) {
      case "start-name":
        this.#tagName = this.#name;
        this.#attrs = [];
        if (isSpace(c)) this.#state = "start-space";
        else if (c === 0x3e /* > */) return this.#startTagEnded(false);
        else if (c === 0x2f /* / */) this.#state = "empty-close";
        else break;
        return true;
      case "attr-name":
        // Only the value of a namespace declaration is needed.
        this.#value = this.#name === "xmlns" || this.#name.startsWith("xmlns:") ? "" : undefined;
        if (isSpace(c)) this.#state = "attr-eq";
        else if (c === 0x3d /* = */) this.#state = "attr-quote";
        else break;
        return true;
      case "end-name":
        if (isSpace(c)) this.#state = "end-gap";
        else if (c === 0x3e /* > */) return this.#endTagEnded();
        else break;
        return true;
    }
    return this.#refuse("not-well-formed", `a character not allowed in ${what}`);
  }

  // Namespaces in XML 1.0 §4: a QName is NCName or NCName ':' NCName.
  #qName(name: string): boolean {
    if (name.length === 0) return false;
    const colon = name.indexOf(":");
    if (colon === -1) return true;
    return (
      colon > 0 &&
      colon < name.length - 1 &&
      name.indexOf(":", colon + 1) === -1 &&
      isNameStart(name.codePointAt(colon + 1)!)
    );
  }

  // Returns false when the tag closed the stream's root (or failed): scanning stops.
  #startTagEnded(empty: boolean): boolean {
    if (this.#open.length + 1 > this.maxDepth + 1) {
      return this.#refuse("policy-violation", `elements nested deeper than ${this.maxDepth}`);
    }
    const scope = this.#namespaces();
    if (scope === undefined) return false;
    this.#state = "text";
    this.#brackets = 0;
    if (!empty) {
      this.#open.push(this.#tagName);
      this.#scopes.push(scope);
      return true;
    }
    if (this.#open.length > 0) return true;
    this.#rootClosed = true; // <stream:stream/>
    return false;
  }

  /**
   * Checks the start tag just read against XML 1.0's Unique Att Spec and Namespaces in
   * XML 1.0, and returns the prefixes in scope inside the element (`undefined`: refused).
   *
   * ltx has no notion of namespaces: it took `<message xmlns:p=''/>` (found by the fuzz
   * suite), `<x:a/>` with `x` declared nowhere, and `to='a' to='b'` (keeping the last).
   * An empty value for a prefix "undeclares" it only in Namespaces in XML 1.1; in 1.0,
   * the version XMPP uses, it is an error (§3, No Prefix Undeclaring) and here it is
   * refused like any other namespace error: not-well-formed.
   */
  #namespaces(): Scope | undefined {
    const outer = this.#scopes[this.#scopes.length - 1] ?? INITIAL_SCOPE;
    let scope: Map<string, string> | undefined;
    const attrs = this.#attrs;
    // XML 1.0 §3.1 WFC: Unique Att Spec. A set only for many attributes (a tag may hold
    // a hundred thousand; most hold two or three).
    const seen = attrs.length > 8 ? new Set<string>() : undefined;
    let prefixed = false;
    for (let k = 0; k < attrs.length; k++) {
      const [name, raw] = attrs[k]!;
      const twice = seen ? seen.has(name) : attrs.slice(0, k).some(([other]) => other === name);
      if (twice) return this.#refused(`the attribute ${shown(name)} given twice`);
      seen?.add(name);
      if (raw === undefined) {
        prefixed ||= name.includes(":");
        continue;
      }
      const value = unescapeValue(raw);
      if (name === "xmlns") {
        if (value === XML_NS || value === XMLNS_NS)
          return this.#refused("a reserved namespace as the default");
        continue;
      }
      const prefix = name.slice("xmlns:".length);
      if (value === "") return this.#refused(`${shown(name)}='' (undeclaring a prefix is XML 1.1 only)`);
      if (prefix === "xmlns") return this.#refused("a declaration of the xmlns prefix");
      if (prefix === "xml" ? value !== XML_NS : value === XML_NS || value === XMLNS_NS) {
        return this.#refused(`${shown(name)} misuses a reserved prefix or namespace name`);
      }
      scope ??= new Map(outer);
      scope.set(prefix, value);
    }
    const inScope = scope ?? outer;
    const colon = this.#tagName.indexOf(":");
    if (colon !== -1) {
      const prefix = this.#tagName.slice(0, colon);
      if (prefix === "xmlns" || !inScope.has(prefix))
        return this.#refused(`the prefix of <${shown(this.#tagName)}> is not declared`);
    }
    if (!prefixed) return inScope;
    // Namespaces in XML 1.0 §6.3: no two attributes with the same expanded name.
    const expanded = new Set<string>();
    for (const [name] of attrs) {
      const at = name.indexOf(":");
      if (at === -1 || name.startsWith("xmlns:")) continue;
      const uri = inScope.get(name.slice(0, at));
      if (uri === undefined)
        return this.#refused(`the prefix of the attribute ${shown(name)} is not declared`);
      const key = `{${uri}}${name.slice(at + 1)}`;
      if (expanded.has(key)) return this.#refused(`two attributes with the expanded name of ${shown(name)}`);
      expanded.add(key);
    }
    return inScope;
  }

  #refused(message: string): undefined {
    this.#refuse("not-well-formed", message);
    return undefined;
  }

  #endTagEnded(): boolean {
    const open = this.#open.pop();
    this.#scopes.pop();
    if (open !== this.#name) {
      return this.#refuse(
        "not-well-formed",
        open === undefined
          ? `</${shown(this.#name)}> closes nothing`
          : `</${shown(this.#name)}> does not close <${shown(open)}>`,
      );
    }
    this.#state = "text";
    this.#brackets = 0;
    if (this.#open.length > 0) return true;
    this.#rootClosed = true; // </stream:stream>: nothing after it is read
    return false;
  }

  // Hands on the input up to `i` (the root has just closed, or scanning failed).
  #done(out: string, input: string, from: number, i: number): string {
    return this.#failed ? "" : out + input.slice(from, i);
  }

  #startRef(from: "text" | "attr-value"): void {
    this.#refReturn = from;
    this.#refKind = "start";
    this.#refValue = 0;
    this.#refDigits = 0;
    this.#refName = "";
    this.#state = "ref";
  }

  // One character of a reference, after the '&'.
  #ref(c: number): boolean {
    const bad = () =>
      this.#refuse("restricted-xml", "an '&' that is not a predefined entity or character reference");
    switch (this.#refKind) {
      case "start":
        if (c === 0x23 /* # */) this.#refKind = "hash";
        else if ((c >= 0x61 && c <= 0x7a) || (c >= 0x41 && c <= 0x5a)) {
          this.#refKind = "name";
          this.#refName = String.fromCharCode(c);
        } else return bad();
        return true;
      case "hash":
        if (c === 0x78 /* x */) this.#refKind = "hex";
        else if (c >= 0x30 && c <= 0x39) {
          this.#refKind = "dec";
          this.#refValue = c - 0x30;
          this.#refDigits = 1;
        } else return bad();
        return true;
      case "dec":
      case "hex": {
        if (c === 0x3b /* ; */) {
          if (this.#refDigits === 0) return bad();
          // XML 1.0 §4.1 WFC: Legal Character.
          if (!isXmlChar(this.#refValue)) {
            return this.#refuse("restricted-xml", "a reference to a character that XML does not allow");
          }
          this.#state = this.#refReturn;
          return true;
        }
        const digit =
          c >= 0x30 && c <= 0x39
            ? c - 0x30
            : this.#refKind === "hex" && (c | 0x20) >= 0x61 && (c | 0x20) <= 0x66
              ? (c | 0x20) - 0x61 + 10
              : -1;
        if (digit === -1) return bad();
        this.#refValue = this.#refValue * (this.#refKind === "hex" ? 16 : 10) + digit;
        this.#refDigits++;
        if (this.#refValue > 0x10ffff) {
          return this.#refuse("restricted-xml", "a reference to a character that XML does not allow");
        }
        return true;
      }
      case "name":
        if (c === 0x3b /* ; */) {
          if (!PREDEFINED.has(this.#refName)) return bad();
          this.#state = this.#refReturn;
          return true;
        }
        if (!((c >= 0x61 && c <= 0x7a) || (c >= 0x41 && c <= 0x5a)) || this.#refName.length >= 4)
          return bad();
        this.#refName += String.fromCharCode(c);
        return true;
    }
  }

  #refuse(condition: XmlStreamErrorCondition, message: string): false {
    this.#failed = true;
    this.fail(condition, message);
    return false;
  }
}
