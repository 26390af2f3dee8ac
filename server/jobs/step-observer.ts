import type { StepStateName } from "../store/index.js";

/** What the job runner reports as steps reach a state (metrics listen; the runner does not know them). */
export interface StepObserver {
  /** `count` steps reached `state`: created in it, moved to it, or (error) lost with a previous server. */
  stepsReached(state: StepStateName, count: number): void;
}

export const noStepObserver: StepObserver = {
  stepsReached: () => undefined,
};
