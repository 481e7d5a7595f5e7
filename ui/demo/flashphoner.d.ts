// The part of the Web SDK's global Flashphoner object (prebuilt bundle) this page uses.
export interface Stream {
  status(): string;
  stop(): void;
  publish(): void;
  getRecordInfo(): string;
  getInfo(): string;
  getErrorInfo(): string;
  on(event: string, cb: (s: Stream) => void): Stream;
}

export interface StreamOptions {
  name: string;
  display: HTMLElement;
  record: boolean;
  receiveVideo: boolean;
  receiveAudio: boolean;
}

export interface Session {
  status(): string;
  getServerUrl(): string;
  disconnect(): void;
  createStream(o: StreamOptions): Stream;
  on(event: string, cb: (s: Session) => void): Session;
}

export interface FlashphonerApi {
  init(o: object): void;
  getSessions(): Session[];
  createSession(o: { urlServer: string }): Session;
}
