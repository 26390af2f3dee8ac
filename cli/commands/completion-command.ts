import { Argument, type Command } from "commander";
import { COMPLETION_SHELLS, completionScript, type CompletionShell } from "../completion-script.js";

export function registerCompletion(program: Command): void {
  program
    .command("completion")
    .addArgument(new Argument("<shell>", "bash, zsh or fish").choices(COMPLETION_SHELLS))
    .description("print a shell completion script for rmm's commands and flags")
    .addHelpText(
      "after",
      [
        "",
        "Examples:",
        "  source <(rmm completion bash)        # in ~/.bashrc",
        "  source <(rmm completion zsh)         # in ~/.zshrc",
        "  rmm completion fish | source         # in ~/.config/fish/config.fish",
      ].join("\n"),
    )
    .action((shell: CompletionShell) => {
      process.stdout.write(completionScript(program, shell));
    });
}
