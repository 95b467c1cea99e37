#!/usr/bin/env bash
# Fill corpus/<target>/ from the test fixtures (the corpus itself is not committed).
set -euo pipefail
cd "$(dirname "$0")"
fixtures=../tests/fixtures
mkdir -p corpus/{pipeline_yaml,access_yaml,parse_pdf,parse_docx,parse_html,parse_markdown,parse_text,query_json,upload_multipart}
for f in "$fixtures"/server/pipelines/*.yaml; do cp "$f" "corpus/pipeline_yaml/fixture-$(basename "$f")"; done
for f in ../../pipelines/*.yaml; do cp "$f" "corpus/pipeline_yaml/demo-$(basename "$f")"; done
printf 'roles:\n  hr-reader: { pipelines: [hr], domains: [hr], scopes: [query] }\n  admin: { pipelines: ["*"], domains: ["*"], scopes: ["*"] }\n' > corpus/access_yaml/issue
printf 'roles:\n  app:\n    pipelines: [hr]\n    domains: [hr]\n    scopes: [query, upload]\n    key_budget: { daily_usd: 1, monthly_tokens: 1000 }\n' > corpus/access_yaml/budget
for pair in pdf:parse_pdf docx:parse_docx html:parse_html htm:parse_html md:parse_markdown txt:parse_text; do
  ext=${pair%%:*}; target=${pair##*:}
  find "$fixtures/docs" "$fixtures/server/docs" -name "*.$ext" -size -2M -exec cp {} "corpus/$target/" \;
done
printf '{"query":"How many vacation days?"}' > corpus/query_json/plain
printf '{"query":"NDA?","domain":["hr"],"filters":{"doc_type":["policy"]},"top_k":3,"stream":true}' > corpus/query_json/options
printf '{"query":"leave","role":"manager","session_id":"s","user":"u"}' > corpus/query_json/session
i=0
for f in "$fixtures"/server/docs/hr/*; do
  i=$((i+1))
  { printf -- '--FUZZ\r\nContent-Disposition: form-data; name="domain"\r\n\r\nhr\r\n'
    printf -- '--FUZZ\r\nContent-Disposition: form-data; name="file"; filename="%s"\r\n\r\n' "$(basename "$f")"
    cat "$f"; printf '\r\n--FUZZ--\r\n'; } > "corpus/upload_multipart/seed$i"
done
echo "corpus: $(find corpus -type f | wc -l) files"
