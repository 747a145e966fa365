/** What bg-agent needs from Linear; src/integrations/linear.ts implements it on @linear/sdk. */
export interface LinearIssue {
  id: string;
  /** e.g. ENG-123 */
  identifier: string;
  title: string;
  description: string;
  url: string;
  state: string;
  labels: string[];
  teamKey: string;
}

export interface LinearGateway {
  listIssues(filter: { team: string; states: string[]; labels: string[] }): Promise<LinearIssue[]>;
  getIssue(identifier: string): Promise<LinearIssue | null>;
  comment(issueId: string, body: string): Promise<void>;
  /** Moves the issue to the team's workflow state of that name. */
  moveToState(issueId: string, teamKey: string, stateName: string): Promise<void>;
}

/** Linear identifiers in free text (branch names, titles, bodies): `ENG-123`. */
export const LINEAR_ID_RE = /\b([A-Z][A-Z0-9]{0,9}-\d{1,7})\b/g;
