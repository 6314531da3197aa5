// The signed and hashed texts (package statement, file manifest, key set) are defined once, in the
// SDK package, so the service, the SDK and the CLI can never disagree on a byte.

// One base64url decoder (pure JS, strict: null for anything that is not canonical base64url).
export { fromBase64url } from "@updraft/sdk/bytes";
export {
  KEY_ID_LENGTH,
  KEYSET_HEADER,
  type KeysetPayload,
  keysetSigningText,
  keyValidAt,
  manifestText,
  type PackageStatement,
  parseKeysetPayload,
  parseSignedKeyset,
  type ServiceKey,
  type SignedKeyset,
  STATEMENT_HEADER,
  statementText,
} from "@updraft/sdk/canonical";
