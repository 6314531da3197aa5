// The signed and hashed texts (package statement, file manifest, key set) are defined once, in the
// SDK package, so the service, the SDK and the CLI can never disagree on a byte.
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
