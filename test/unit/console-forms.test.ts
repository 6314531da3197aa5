// Parts of the console's release page (src/http/console/release-forms.tsx): the estimate block, whose
// save form is there whenever a percentage is proposed (statistics that cannot be read never block
// setting a percentage), and the targeting in words.
import { describe, expect, it } from "vitest";
import { EstimateBlock, TargetingSummary } from "../../src/http/console/release-forms";

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

describe("TargetingSummary", () => {
  it("says a canary's targeting in words, in the order it is evaluated, with the JSON folded", () => {
    const html = String(
      TargetingSummary({
        targeting: {
          denylists: [{ kind: "device", listId: "al_bad" }],
          allowlists: [{ kind: "user", listId: "al_qa" }],
          rules: [
            { attribute: "brand", operator: "include", values: ["acme", "zeta"] },
            { attribute: "osVersion", operator: "gte", values: ["14"] },
          ],
          percentage: { basisPoints: 250, ramp: [{ at: 0, basisPoints: 500 }] },
          stickyKey: "userId",
        },
      }),
    );
    expect(html).toContain('<li>Never: <a href="/console/allowlists#list-al_bad">al_bad</a> (device ids)</li>');
    expect(html).toContain('<li>Always: <a href="/console/allowlists#list-al_qa">al_qa</a> (user ids)</li>');
    expect(html).toContain("<li>Devices matching every rule: brand include acme, zeta; osVersion gte 14</li>");
    expect(html).toContain("<li>Percentage: 2.5 % of the devices past the steps above, then a ramp of 1 steps</li>");
    expect(html).toContain("<li>Sticky by userId</li>");
    expect(html).toContain("<summary>As stored (JSON)</summary>");
    expect(String(TargetingSummary({ targeting: null }))).toContain("No targeting");
  });
});
