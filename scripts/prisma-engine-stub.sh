#!/bin/sh
# Stand-in for Prisma's native schema engine: `prisma generate` only checks that it exists.
echo "The Prisma schema engine is not installed here; migrations are applied by libs/db (npm run migrate)." >&2
exit 1
