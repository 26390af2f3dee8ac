import { create } from "@bufbuild/protobuf";
import { describe, expect, it } from "vitest";
import { ExecParamsSchema } from "../../../gen/rmm/v1/exec_pb.js";
import { JobTotalsSchema, StepState } from "../../../gen/rmm/v1/job_service_pb.js";
import { commandText, doneCount, stepIsFinal, totalsText } from "./job-labels.js";

describe("job labels", () => {
  it("names every step state, and only pending and running ones may still change", () => {
    const states = Object.values(StepState).filter((v): v is StepState => typeof v === "number");
    const open = states.filter((s) => !stepIsFinal(s));
    expect(open).toEqual([StepState.UNSPECIFIED, StepState.PENDING, StepState.RUNNING]);
  });

  it("shows a shell command's line, else the argv joined", () => {
    expect(commandText(create(ExecParamsSchema, { shellCommand: { shell: "/bin/sh", commandLine: "uptime" } }))).toBe(
      "uptime",
    );
    expect(commandText(create(ExecParamsSchema, { argv: ["ls", "-l"] }))).toBe("ls -l");
    expect(commandText(undefined)).toBe("");
  });

  it("counts ended steps and lists the non-zero totals, ended ones first", () => {
    const t = create(JobTotalsSchema, { total: 6, succeeded: 2, failed: 1, expired: 1, running: 1, pending: 1 });
    expect(doneCount(t)).toBe(4);
    expect(totalsText(t)).toBe("2 succeeded, 1 failed, 1 expired, 1 running, 1 pending");
    expect(totalsText(create(JobTotalsSchema))).toBe("no steps");
  });
});
