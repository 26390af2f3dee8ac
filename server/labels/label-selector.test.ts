import { Code, ConnectError } from "@connectrpc/connect";
import { describe, expect, it } from "vitest";
import { LabelSelector } from "./label-selector.js";

const agents = {
  web: { env: "prod", tier: "web", role: "frontend" },
  api: { env: "prod", tier: "api", "example.com/zone": "eu-1", cores: "8" },
  db: { env: "prod", role: "db", cores: "32" },
  old: { env: "staging", decommissioned: "" },
};

function matching(selector: string): string[] {
  const s = LabelSelector.parse(selector);
  return Object.entries(agents)
    .filter(([, labels]) => s.matches(labels))
    .map(([name]) => name);
}

function parseError(selector: string): ConnectError {
  try {
    LabelSelector.parse(selector);
  } catch (err) {
    expect(err).toBeInstanceOf(ConnectError);
    expect((err as ConnectError).code).toBe(Code.InvalidArgument);
    return err as ConnectError;
  }
  throw new Error(`${selector} parsed`);
}

describe("label selectors", () => {
  it("matches everything when empty or blank", () => {
    expect(matching("")).toEqual(["web", "api", "db", "old"]);
    expect(matching("   ")).toEqual(["web", "api", "db", "old"]);
  });

  it("supports every operator", () => {
    expect(matching("env=prod")).toEqual(["web", "api", "db"]);
    expect(matching("env==staging")).toEqual(["old"]);
    expect(matching("role!=db")).toEqual(["web", "api", "old"]);
    expect(matching("tier in (web,api)")).toEqual(["web", "api"]);
    expect(matching("tier notin (web)")).toEqual(["api", "db", "old"]);
    expect(matching("role")).toEqual(["web", "db"]);
    expect(matching("!role")).toEqual(["api", "old"]);
    expect(matching("cores>10")).toEqual(["db"]);
    expect(matching("cores<10")).toEqual(["api"]);
    expect(matching("example.com/zone=eu-1")).toEqual(["api"]);
    expect(matching("decommissioned=")).toEqual(["old"]);
  });

  it("ANDs requirements and tolerates spaces", () => {
    expect(matching("env=prod,role!=db,tier in (web,api),!decommissioned")).toEqual(["web", "api"]);
    expect(matching(" env = prod , tier in ( web , api ) ")).toEqual(["web", "api"]);
  });

  it("points at the offending character", () => {
    expect(parseError("env=prod,,x").rawMessage).toMatch(/expected a label key, found "," at character 10/);
    expect(parseError("env prod").rawMessage).toMatch(/after key "env", found "p" at character 5/);
    expect(parseError("tier in web").rawMessage).toMatch(/expected "\(".* at character 9/);
    expect(parseError("tier in (web").rawMessage).toMatch(/missing its "\)", found the end at character 13/);
    expect(parseError("env=prod,").rawMessage).toMatch(/trailing ","/);
    expect(parseError("cores>many").rawMessage).toMatch(/integer after ">".* at character 7/);
    expect(parseError("env=pr*d").rawMessage).toMatch(/expected "," between requirements, found "\*" at character 7/);
    expect(parseError("-env=x").rawMessage).toMatch(/label name "-env".* at character 1/);
    expect(parseError("Bad_Prefix/x=1").rawMessage).toMatch(/prefix "Bad_Prefix" is not a DNS subdomain/);
    expect(parseError(`env=${"v".repeat(64)}`).rawMessage).toMatch(/longer than 63 characters/);
    expect(parseError("x".repeat(5000)).rawMessage).toMatch(/longer than 4096/);
  });
});
