import { Command } from "commander";
import { describe, expect, it } from "vitest";
import { commandsFor } from "./command-table.js";

/** The top-level command names a program gets from the modules `args` needs. */
async function registered(args: string[]): Promise<string[]> {
  const program = new Command("rmm");
  for (const register of await commandsFor(args)) register(program);
  return program.commands.map((c) => c.name());
}

describe("commandsFor", () => {
  it("loads only the module of the command named, whichever of its names is used", async () => {
    expect(await registered(["exec", "web-01", "--", "true"])).toEqual(["exec"]);
    expect(await registered(["whoami"])).toEqual(["login", "whoami"]);
    expect(await registered(["agent", "show", "3f2a"])).toEqual(["agents", "agent"]);
  });

  it("finds the command after root options, and not in the value of --context", async () => {
    expect(await registered(["--context", "exec", "cp", "a", "b"])).toEqual(["cp"]);
    expect(await registered(["--context=prod", "ls", "web-01:/"])).toEqual(["ls", "stat"]);
  });

  it("loads nothing for --version, and everything for help, completion and names it does not know", async () => {
    expect(await registered(["--version"])).toEqual([]);
    const all = await registered(["--help"]);
    expect(all).toEqual(expect.arrayContaining(["login", "agents", "exec", "cp", "mcp", "completion", "sessions"]));
    expect(await registered([])).toEqual(all);
    expect(await registered(["help", "exec"])).toEqual(all);
    expect(await registered(["completion", "bash"])).toEqual(all);
    expect(await registered(["exce", "web-01"])).toEqual(all);
  });
});
