// The console's allowlists page (docs/console.md): every list with its counts, a file upload
// (replace or append; console.js shows a progress bar, the plain form works without it) and a
// form to create a list.
import { Layout } from "./pages";

export interface AllowlistItem {
  id: string;
  name: string;
  kind: "user" | "device";
  exactCount: number;
  /** Shown only to those who may read entries. */
  regexEntries?: string[];
  contentVersion: number;
  updatedAt: number;
}

export function AllowlistsPage(props: {
  lists: AllowlistItem[];
  csrf: string;
  mayWrite: boolean;
  /** The list preselected in the upload form (after an upload, the one uploaded to). */
  selected: string | null;
  notice?: string | undefined;
}) {
  return (
    <Layout title="Allowlists" signedIn={true} csrf={props.csrf} current="/console/allowlists">
      <h1>Allowlists</h1>
      <p class="muted">
        Lists of user ids or device ids that canaries include (allowlists) or exclude (denylists). One entry per line; a
        line starting with <code>re:</code> is a pattern.
      </p>
      {props.notice && <p role="status">{props.notice}</p>}
      {props.lists.length === 0 ? (
        <p class="muted">No list yet.</p>
      ) : (
        <table>
          <thead>
            <tr>
              <th scope="col">Name</th>
              <th scope="col">Of</th>
              <th scope="col">Ids</th>
              <th scope="col">Patterns</th>
              <th scope="col">Content version</th>
              <th scope="col">Updated (UTC)</th>
            </tr>
          </thead>
          <tbody>
            {props.lists.map((l) => (
              <tr id={`list-${l.id}`}>
                <td>{l.name}</td>
                <td>{l.kind === "user" ? "user ids" : "device ids"}</td>
                <td class="count">{l.exactCount.toLocaleString("en")}</td>
                <td class="count">{l.regexEntries === undefined ? "—" : String(l.regexEntries.length)}</td>
                <td class="count">{String(l.contentVersion)}</td>
                <td>{new Date(l.updatedAt).toISOString().slice(0, 16).replace("T", " ")}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      {props.mayWrite && props.lists.length > 0 && (
        <form method="post" action="/console/allowlists/upload" enctype="multipart/form-data" data-upload="">
          <input type="hidden" name="_csrf" value={props.csrf} />
          <h2>Upload entries</h2>
          <label for="upload-list">List</label>
          <select id="upload-list" name="list">
            {props.lists.map((l) => (
              <option value={l.id} selected={l.id === props.selected}>
                {`${l.name} (${l.kind === "user" ? "user ids" : "device ids"})`}
              </option>
            ))}
          </select>
          <label for="upload-file">File: text, one id per line (up to 1,000,000 ids, 64 MiB)</label>
          <input id="upload-file" name="file" type="file" accept=".txt,.csv,.list,text/plain" required />
          <fieldset>
            <legend>What the file does</legend>
            <input id="upload-replace" type="radio" name="mode" value="replace" checked />
            <label class="inline" for="upload-replace">
              Replace the list's entries with the file's
            </label>
            <input id="upload-append" type="radio" name="mode" value="append" />
            <label class="inline" for="upload-append">
              Add the file's entries to the list's
            </label>
          </fieldset>
          <p>
            <button type="submit">Upload</button>{" "}
            <progress id="upload-progress" max="100" value="0" hidden aria-label="Upload progress" />{" "}
            <span id="upload-status" role="status" />
          </p>
          <div id="upload-errors" role="alert" />
        </form>
      )}
      {props.mayWrite && (
        <form method="post" action="/console/allowlists">
          <input type="hidden" name="_csrf" value={props.csrf} />
          <h2>New list</h2>
          <label for="new-name">Name (letters, digits, dots, dashes, underscores)</label>
          <input id="new-name" name="name" type="text" required maxlength={100} />
          <label for="new-kind">Of</label>
          <select id="new-kind" name="kind">
            <option value="user">user ids</option>
            <option value="device">device ids</option>
          </select>
          <p>
            <button type="submit">Create</button>
          </p>
        </form>
      )}
    </Layout>
  );
}
