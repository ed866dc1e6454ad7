/**
 * Byte-level alphabet shared by the BPE trainer, our encoder and Hugging Face `tokenizer.json`:
 * GPT-2's reversible map from the 256 byte values to printable Unicode characters, and the GPT-2
 * pre-tokenizer pattern that the `ByteLevel` pre-tokenizer applies with `use_regex: true`.
 */

/** Byte value (0..255) → the printable character that stands for it in vocab strings. */
export const BYTE_TO_CHAR: readonly string[] = buildByteToChar();

/** Printable character → byte value, the inverse of {@link BYTE_TO_CHAR}. */
export const CHAR_TO_BYTE: ReadonlyMap<string, number> = new Map(BYTE_TO_CHAR.map((c, b) => [c, b]));

/**
 * GPT-2's pre-tokenizer pattern (the one the `ByteLevel` pre-tokenizer uses in both the Rust
 * `tokenizers` crate and tokenizers.js): contractions, letters, digits, other symbols, each with
 * an optional leading space, and runs of whitespace with the last space left to the next word.
 */
export const GPT2_PRETOKENIZER_PATTERN = /'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+/gu;

// Printable bytes keep their own code point; the other 68 are shifted to 256.. in byte order.
function buildByteToChar(): string[] {
  const chars: string[] = new Array<string>(256);
  let shifted = 0;
  for (let b = 0; b < 256; b++) {
    const printable = (b >= 0x21 && b <= 0x7e) || (b >= 0xa1 && b <= 0xac) || (b >= 0xae && b <= 0xff);
    chars[b] = String.fromCharCode(printable ? b : 256 + shifted++);
  }
  return chars;
}

const LONE_SURROGATE = /\p{Cs}/u;

/**
 * Throws a TypeError when `text` is not well-formed UTF-16 (contains a lone surrogate), because
 * such text has no UTF-8 encoding and would silently come back as U+FFFD after a round trip.
 */
export function assertWellFormedText(text: string, what = 'text'): void {
  const match = LONE_SURROGATE.exec(text);
  if (match !== null) {
    const code = text.charCodeAt(match.index).toString(16).toUpperCase();
    throw new TypeError(
      `${what} contains a lone surrogate U+${code} at UTF-16 index ${match.index}; only well-formed Unicode text can be tokenized`,
    );
  }
}

const utf8Encoder = new TextEncoder();

/** Maps a string's UTF-8 bytes to the byte-level characters, e.g. " hi" → "Ġhi". */
export function toByteLevelString(text: string): string {
  const bytes = utf8Encoder.encode(text);
  let out = '';
  for (let i = 0; i < bytes.length; i++) out += BYTE_TO_CHAR[bytes[i]];
  return out;
}
