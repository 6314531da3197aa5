// The package reader as the unit tests call it: an accepted archive is also read the way an
// extractor that never looks at the central directory reads it (./zip-sequential.ts), and both views
// must agree; a refusal must be an AppError whose detail is the reader's own words. Node only.
import { expect } from "vitest";
import { AppError } from "../../src/domain/errors";
import { DEFAULT_PACKAGE_LIMITS, type ManifestFile } from "../../src/domain/package";
import { fflateReader } from "../../src/edge/zip-reader";
import { centralNames, readSequentially, sequentialManifest } from "./zip-sequential";

/** The reader's manifest, after checking that an extractor walking local headers sees the same. */
export async function read(bytes: Uint8Array, limits = DEFAULT_PACKAGE_LIMITS): Promise<ManifestFile[]> {
  const manifest = await fflateReader.manifest(bytes, limits);
  expectOneView(bytes, manifest);
  return manifest;
}

/**
 * Both views of an accepted archive agree: the walk from offset 0 ends where the central directory
 * starts, meets the same entries (directories too) and finds the same bytes in each file.
 */
export function expectOneView(bytes: Uint8Array, manifest: ManifestFile[]) {
  const sequential = readSequentially(bytes);
  const central = centralNames(bytes);
  expect(sequential.end, "the sequential walk ends where the central directory starts").toBe(central.offset);
  expect(sequential.entries.map((e) => e.name).sort()).toEqual([...central.names].sort());
  expect(sequentialManifest(bytes)).toEqual(manifest);
}

/** The reader's refusal of `bytes` (fails the test when it accepts them). */
export async function refusal(bytes: Uint8Array, limits = DEFAULT_PACKAGE_LIMITS): Promise<AppError> {
  try {
    await fflateReader.manifest(bytes, limits);
  } catch (error) {
    if (error instanceof AppError) {
      // Details are written by the reader, never copied from the archive.
      expect(error.message).toMatch(/^[\x20-\x7e]+$/);
      expect(error.message).not.toMatch(/evil/i);
      return error;
    }
    throw error;
  }
  throw new Error("the archive was accepted");
}
