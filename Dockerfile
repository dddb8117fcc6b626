# MPLP Trace: one image for the API and every worker stage (the command picks the role).
FROM node:22-bookworm-slim
ENV NODE_ENV=production
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --ignore-scripts=false && npm cache clean --force
COPY migrations ./migrations
COPY tenants ./tenants
COPY src ./src
COPY workers ./workers
COPY scripts ./scripts
# Node 22.18+ runs the TypeScript sources directly (type stripping); the code uses only erasable syntax.
ENV NODE_OPTIONS=--experimental-strip-types
USER node
EXPOSE 8080
# The API and every stage, without the demo tenant `npm start` (workers/all.ts) creates on an empty database:
# tenants and keys are made with the admin API or `node scripts/tenants.ts`.
CMD ["node", "workers/run.ts", "--api", "--stage", "all"]
