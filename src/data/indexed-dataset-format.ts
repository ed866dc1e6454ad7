/**
 * Megatron-LM indexed dataset layout (DESIGN §7). `PREFIX.bin` is the raw little-endian token
 * array. `PREFIX.idx` is: 9-byte magic `MMIDIDX\0\0`, u64 version 1, u8 dtype code, u64 sequence
 * count S, u64 document-index count D+1 (Megatron writes the length of the document-index array,
 * i.e. one more than the number of documents), then i32 lengths (S), i64 byte offsets of the
 * sequences in .bin (S), i64 document indices (D+1: first sequence of each document, starting
 * with 0 and ending with S).
 */

export const INDEX_MAGIC = Uint8Array.from([0x4d, 0x4d, 0x49, 0x44, 0x49, 0x44, 0x58, 0x00, 0x00]); // "MMIDIDX\0\0"
export const INDEX_VERSION = 1;
/** Bytes before the arrays: magic 9 + version 8 + dtype 1 + sequence count 8 + document count 8. */
export const INDEX_HEADER_BYTES = 34;

export type TokenDtypeName = 'uint8' | 'int8' | 'int16' | 'int32' | 'int64' | 'float64' | 'float32' | 'uint16';

export interface TokenDtype {
  name: TokenDtypeName;
  /** Megatron's numeric code for the dtype. */
  code: number;
  bytes: number;
  /** Floating-point dtypes cannot hold token ids; the reader refuses them. */
  integer: boolean;
}

/** Megatron's dtype codes, one row per dtype: the single table sizes and codes are read from. */
export const TOKEN_DTYPES: Record<TokenDtypeName, TokenDtype> = {
  uint8: { name: 'uint8', code: 1, bytes: 1, integer: true },
  int8: { name: 'int8', code: 2, bytes: 1, integer: true },
  int16: { name: 'int16', code: 3, bytes: 2, integer: true },
  int32: { name: 'int32', code: 4, bytes: 4, integer: true },
  int64: { name: 'int64', code: 5, bytes: 8, integer: true },
  float64: { name: 'float64', code: 6, bytes: 8, integer: false },
  float32: { name: 'float32', code: 7, bytes: 4, integer: false },
  uint16: { name: 'uint16', code: 8, bytes: 2, integer: true },
};

export function dtypeFromCode(code: number): TokenDtype | undefined {
  return Object.values(TOKEN_DTYPES).find((d) => d.code === code);
}

/** The dtype fog8 writes for a vocabulary: uint16 when vocabSize ≤ 65535, else int32. */
export function dtypeForVocabSize(vocabSize: number): TokenDtype {
  if (!Number.isInteger(vocabSize) || vocabSize < 1 || vocabSize > 2 ** 31) {
    throw new RangeError(`vocabSize must be an integer in [1, 2^31], got ${vocabSize}`);
  }
  return vocabSize <= 65535 ? TOKEN_DTYPES.uint16 : TOKEN_DTYPES.int32;
}

/** Expected .idx size in bytes for S sequences and a document-index array of length D+1. */
export function indexFileBytes(sequenceCount: number, documentIndexCount: number): number {
  return INDEX_HEADER_BYTES + 4 * sequenceCount + 8 * sequenceCount + 8 * documentIndexCount;
}

export function indexPath(prefix: string): string {
  return `${prefix}.idx`;
}

export function dataPath(prefix: string): string {
  return `${prefix}.bin`;
}
