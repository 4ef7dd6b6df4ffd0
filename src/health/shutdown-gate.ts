import { Injectable } from '@nestjs/common';

/**
 * Set once, by main.ts, when SIGTERM or SIGINT arrives. From then on readiness
 * answers 503 (so a load balancer that still probes takes this instance out),
 * and every response asks its client to close the connection (app.factory.ts),
 * so keep-alive connections end after their in-flight request instead of
 * holding the drain open.
 */
@Injectable()
export class ShutdownGate {
  private closing = false;

  get draining(): boolean {
    return this.closing;
  }

  begin(): void {
    this.closing = true;
  }
}
