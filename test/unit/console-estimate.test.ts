// The console's estimate block (src/http/console/release-forms.tsx): the save form is there whenever
// a percentage is proposed, so statistics that cannot be read never block setting a percentage.
import { describe, expect, it } from "vitest";
import { EstimateBlock } from "../../src/http/console/release-forms";

const render = (props: Parameters<typeof EstimateBlock>[0]) => String(EstimateBlock(props));
const base = { releaseId: "rel_1", rowVersion: 7, csrf: "c", mayWrite: true };

describe("EstimateBlock", () => {
  it("offers to save a proposed percentage even when it could not be estimated", () => {
    const html = render({ ...base, basisPoints: 1500, estimate: null });
    expect(html).toContain("The audience at 15 % cannot be estimated right now; it can still be saved.");
    expect(html).toContain('<input type="hidden" name="basisPoints" value="1500"/>');
    expect(html).toContain('<input type="hidden" name="rowVersion" value="7"/>');
    expect(html).toContain("Save 15 %</button>");
  });

  it("shows the estimate with the save form, and no form to a member who may not write", () => {
    const estimate = {
      basisPoints: 2000,
      sampled: 900,
      exact: true,
      current: 50,
      proposed: 180,
      more: 130,
      standardError: 0,
    };
    const html = render({ ...base, basisPoints: 2000, estimate });
    expect(html).toContain("At 20 %: about 180 devices (today 50, +130; ±0) of 900 devices seen in the last 7 days.");
    expect(html).toContain("Save 20 %</button>");
    expect(render({ ...base, mayWrite: false, basisPoints: 2000, estimate })).not.toContain("<form");
  });

  it("asks to move the slider before any percentage is proposed", () => {
    expect(render({ ...base, basisPoints: null, estimate: null })).toContain("Move the slider");
  });
});
