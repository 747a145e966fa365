import nock from "nock";
nock.emitter.on("no match", (req: { method?: string; path?: string; options?: {path?:string}; href?: string }) => {
  console.error("NOMATCH", req.method, req.path ?? req.href ?? req.options?.path);
});
