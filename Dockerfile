# One image for the API, the worker and the one-shot set-up (the command picks which).
# Stage 1: production dependencies only. `npm install`, not `npm ci`: the lock file
# lists only the linux-x64 builds of some optional platform packages (see .ci/run).
FROM node:20.20-bookworm-slim AS deps
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm install --omit=dev --no-audit --no-fund && npm cache clean --force

# Stage 2: the workflow bundle, built once here instead of at every worker start.
FROM deps AS bundle
COPY . .
RUN node --import tsx scripts/bundle-workflows.ts /app/dist/workflow-bundle.js

# Stage 3: what runs. Sources run with tsx (no build step); no dev dependencies.
FROM node:20.20-bookworm-slim AS runtime
WORKDIR /app
ENV NODE_ENV=production \
    HOST=0.0.0.0 \
    PORT=3000 \
    WORKFLOW_BUNDLE_PATH=/app/dist/workflow-bundle.js
COPY --from=deps /app/node_modules ./node_modules
COPY . .
COPY --from=bundle /app/dist ./dist
USER node
EXPOSE 3000 9464
HEALTHCHECK --interval=10s --timeout=3s --retries=5 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:3000/healthz').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"]
CMD ["node", "--import", "tsx", "api/server.ts"]
