import type { Command } from "commander";

export const COMPLETION_SHELLS = ["bash", "zsh", "fish"] as const;
export type CompletionShell = (typeof COMPLETION_SHELLS)[number];

/** A command path ("tunnel open") with its subcommands and flags, read from the registered commands. */
interface CommandWords {
  path: string[];
  subcommands: Array<{ name: string; description: string }>;
  flags: Array<{ flag: string; description: string }>;
}

function commandWords(cmd: Command, path: string[] = []): CommandWords[] {
  const subs = cmd.commands.filter((c) => c.name() !== "help");
  const flags = cmd.options.flatMap((o) =>
    [o.long, o.short].filter((f): f is string => !!f).map((flag) => ({ flag, description: o.description })),
  );
  flags.push({ flag: "--help", description: "display help" });
  return [
    { path, subcommands: subs.map((c) => ({ name: c.name(), description: c.description() })), flags },
    ...subs.flatMap((c) => commandWords(c, [...path, c.name()])),
  ];
}

/** Quotes for single-quoted shell strings. */
const sq = (text: string) => `'${text.replace(/'/g, `'\\''`)}'`;
/** A description fit for a one-line completion hint. */
const hint = (text: string) => text.split(/[:;(]/)[0]!.trim().slice(0, 60);

/**
 * A completion script for the program's commands and flags, generated from
 * the registered commands so it never lists one that does not exist:
 * `source <(rmm completion bash)`, as kubectl and tsh do.
 */
export function completionScript(program: Command, shell: CompletionShell): string {
  const name = program.name();
  const words = commandWords(program);
  if (shell === "fish") return fishScript(name, words);
  const fn = `_${name.replace(/\W/g, "_")}_complete`;
  const cases = words
    .map((w) => {
      const candidates = [...w.subcommands.map((s) => s.name), ...w.flags.map((f) => f.flag)].join(" ");
      return `    ${sq(w.path.join(" "))}) candidates=${sq(candidates)} ;;`;
    })
    .join("\n");
  const body = [
    `${fn}() {`,
    // Not `path`: zsh ties that name to PATH, and a local one would empty PATH inside the function.
    `  local cur cmdpath="" word candidates i`,
    `  cur="\${COMP_WORDS[COMP_CWORD]}"`,
    `  # The command path: the words before the cursor that name subcommands.`,
    `  for ((i = 1; i < COMP_CWORD; i++)); do`,
    `    word="\${COMP_WORDS[i]}"`,
    `    [[ $word == -* ]] && continue`,
    `    case "\${cmdpath:+$cmdpath }$word" in`,
    ...words
      .filter((w) => w.path.length > 0)
      .map((w) => `      ${sq(w.path.join(" "))}) cmdpath="${w.path.join(" ")}" ;;`),
    `    esac`,
    `  done`,
    `  case "$cmdpath" in`,
    cases,
    `    *) candidates="" ;;`,
    `  esac`,
    `  COMPREPLY=($(compgen -W "$candidates" -- "$cur"))`,
    `}`,
  ];
  if (shell === "bash")
    return [
      `# bash completion for ${name}: source <(${name} completion bash)`,
      ...body,
      `complete -o default -F ${fn} ${name}`,
      "",
    ].join("\n");
  // zsh runs the bash function through bashcompinit, which keeps one generator for both shells.
  return [
    `#compdef ${name}`,
    `# zsh completion for ${name}: source <(${name} completion zsh)`,
    `autoload -U +X bashcompinit && bashcompinit`,
    ...body,
    `complete -o default -F ${fn} ${name}`,
    "",
  ].join("\n");
}

function fishScript(name: string, words: CommandWords[]): string {
  const lines = [`# fish completion for ${name}: ${name} completion fish | source`, `complete -c ${name} -f`];
  for (const w of words) {
    // At the top level: no subcommand yet; deeper: the path so far, and none of its subcommands yet.
    const seen = w.path.map((p) => `__fish_seen_subcommand_from ${p}`).join("; and ");
    const notYet =
      w.subcommands.length > 0 ? `not __fish_seen_subcommand_from ${w.subcommands.map((s) => s.name).join(" ")}` : "";
    const condition = [w.path.length === 0 ? "__fish_use_subcommand" : seen, w.path.length > 0 ? notYet : ""]
      .filter(Boolean)
      .join("; and ");
    for (const s of w.subcommands)
      lines.push(`complete -c ${name} -n ${sq(condition)} -a ${s.name} -d ${sq(hint(s.description))}`);
    for (const f of w.flags) {
      const flag = f.flag.startsWith("--") ? `-l ${f.flag.slice(2)}` : `-s ${f.flag.slice(1)}`;
      lines.push(`complete -c ${name} -n ${sq(seen || "true")} ${flag} -d ${sq(hint(f.description))}`);
    }
  }
  return lines.join("\n") + "\n";
}
