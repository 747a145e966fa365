/** Task names as config allows them (src/config/schema.ts). */
export const TASK_NAME_RE = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/;

/** A Linear issue identifier (`ENG-123`): a team key, a dash, a number. Any case is accepted. */
export const LINEAR_ID_RE = /^[A-Za-z][A-Za-z0-9]{0,9}-\d{1,9}$/;
