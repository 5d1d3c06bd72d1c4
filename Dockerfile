# syntax=docker/dockerfile:1
# Targets: api, worker (CPU: native tfjs-node), worker-gpu (CUDA: tfjs-node-gpu).
#   docker build --target api -t plateau-api .
# Every image runs compiled JavaScript with plain node and holds only what that needs: dist/ (`npm run
# build`: api.js, worker.js, cli.js and migrate.js, the migration runner), prisma/migrations,
# package.json and production node_modules. No sources, no libs/, no dev dependencies (tsx, tsup, prisma).

# Pinned to versions (package.json's engines wants Node ^20.20.2 || >=22.12); upgrade them on purpose.
ARG NODE_IMAGE=node:20.20.2-bookworm-slim
# @tensorflow/tfjs-node-gpu 4.22.0 loads libtensorflow 2.9.1, which is built for exactly CUDA 11.2 and
# cuDNN 8.1: this image carries CUDA 11.2.2 and cuDNN 8.1.1 (runtime libraries only; the host needs an
# NVIDIA driver >= 460.32 and the NVIDIA Container Toolkit). Should the tag disappear from the registry,
# build the same from ubuntu:20.04 with NVIDIA's apt repository: cuda-libraries-11-2 and
# libcudnn8=8.1.1.*-1+cuda11.2.
ARG CUDA_IMAGE=nvidia/cuda:11.2.2-cudnn8-runtime-ubuntu20.04

FROM ${NODE_IMAGE} AS base
WORKDIR /app

# Only the package manifests, so the dependency layers below are rebuilt when a manifest changes,
# not on every source edit.
FROM base AS manifests
COPY . /src
RUN cd /src \
 && find . -name node_modules -prune -o \( -name package.json -o -name package-lock.json \) -print \
  | tar -cf - -T - | tar -xf - -C /app

FROM base AS build
COPY --from=manifests /app ./
# Scripts are skipped here: the root postinstall (prisma generate) needs the sources copied next.
RUN npm ci --include=dev --ignore-scripts --no-audit --no-fund
COPY . .
RUN node scripts/prisma-generate.mjs && npm run build

# Each dependency stage ends by removing npm's workspace links (node_modules/@plateau/* -> libs/*): the
# bundles carry that code, and the images have no libs/ for the links to point at.
FROM base AS prod-deps
COPY --from=manifests /app ./
RUN npm ci --omit=dev --omit=optional --ignore-scripts --no-audit --no-fund \
 && rm -rf node_modules/@plateau

# The CPU worker adds tfjs-node (native TensorFlow, several times faster than wasm); its install
# script downloads libtensorflow.
FROM prod-deps AS worker-deps
RUN npm install --no-save --omit=dev --omit=optional --ignore-scripts --no-audit --no-fund @tensorflow/tfjs-node@4.22.0 \
 && npm rebuild @tensorflow/tfjs-node \
 && rm -rf node_modules/@plateau

# The optional dependency tfjs-node-gpu with its native parts, fetched at build time (no GPU needed):
# `npm rebuild` runs its install script, which downloads libtensorflow-gpu-linux-x86_64-2.9.1.tar.gz from
# Google's storage (TFJS_NODE_CDN_STORAGE or TFJS_NODE_BASE_URI point it at a mirror) into
# node_modules/@tensorflow/tfjs-node-gpu/deps/, then `node-pre-gyp install --fallback-to-build` fetches
# the prebuilt N-API addon (tfjs_binding.node, under lib/napi-v8/) or, when none is found, compiles it with
# node-gyp: hence python3, make and g++ in this build stage only.
FROM base AS gpu-deps
RUN apt-get update \
 && apt-get install -y --no-install-recommends python3 make g++ \
 && rm -rf /var/lib/apt/lists/*
COPY --from=manifests /app ./
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund \
 && npm rebuild @tensorflow/tfjs-node-gpu \
 && test -f node_modules/@tensorflow/tfjs-node-gpu/deps/lib/libtensorflow.so.2 \
 && rm -rf node_modules/@plateau

# What every image holds besides node_modules. package.json makes dist/*.js ES modules ("type": "module");
# dist/node_modules carries the data files the bundles resolve by package name (tsup.config.ts);
# dist/migrate.js reads ../prisma/migrations.
FROM base AS app
ENV NODE_ENV=production
COPY --from=build /app/package.json ./
COPY --from=build /app/dist ./dist
COPY --from=build /app/prisma/migrations ./prisma/migrations

FROM app AS api
COPY --from=prod-deps /app/node_modules ./node_modules
ENV API_HOST=0.0.0.0 API_PORT=8080
EXPOSE 8080
USER node
HEALTHCHECK --interval=10s --timeout=3s --start-period=10s \
  CMD ["node", "-e", "fetch('http://127.0.0.1:'+process.env.API_PORT+'/readyz').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"]
CMD ["node", "--enable-source-maps", "dist/api.js"]

FROM app AS worker
COPY --from=worker-deps /app/node_modules ./node_modules
# /metrics and /healthz (apps/worker/src/metrics-server.ts); WORKER_METRICS_PORT=0 turns them off.
ENV WORKER_METRICS_PORT=9464
EXPOSE 9464
USER node
HEALTHCHECK --interval=15s --timeout=3s --start-period=30s \
  CMD ["node", "-e", "fetch('http://127.0.0.1:'+process.env.WORKER_METRICS_PORT+'/healthz').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"]
CMD ["node", "--enable-source-maps", "dist/worker.js"]

FROM ${CUDA_IMAGE} AS worker-gpu
# Node's official Linux build needs glibc >= 2.28; Ubuntu 20.04 has 2.31.
COPY --from=base /usr/local/bin/node /usr/local/bin/node
WORKDIR /app
ENV NODE_ENV=production
# Let TensorFlow take GPU memory as it needs it rather than all of it at start-up.
ENV TF_FORCE_GPU_ALLOW_GROWTH=true
# libtensorflow 2.9.1 carries kernels compiled for the GPU architectures of its day and PTX for the newest
# of them; on a newer GPU (Hopper, sm_90) the driver compiles that PTX on first use, which can take many
# minutes the first time a kernel runs. The driver keeps what it compiled in CUDA_CACHE_PATH: mount a
# volume there (docker-compose.yml does) so it is done once per volume, not once per container start. The
# default cache (256 MiB) is too small for TensorFlow's kernels; 4 GiB is the most the driver allows.
ENV CUDA_CACHE_PATH=/var/cache/cuda CUDA_CACHE_MAXSIZE=4294967296
RUN mkdir -p /var/cache/cuda && chown 1000:1000 /var/cache/cuda
COPY --from=app /app ./
COPY --from=gpu-deps /app/node_modules ./node_modules
ENV WORKER_METRICS_PORT=9464
EXPOSE 9464
USER 1000:1000
HEALTHCHECK --interval=15s --timeout=3s --start-period=60s \
  CMD ["node", "-e", "fetch('http://127.0.0.1:'+process.env.WORKER_METRICS_PORT+'/healthz').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"]
CMD ["node", "--enable-source-maps", "dist/worker.js"]
