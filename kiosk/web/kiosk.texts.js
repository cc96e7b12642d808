// The kiosk's words in Chinese and English, and what each refusal of the server means to a
// citizen. Codes come from server/domain/numbering.py (hall_closed, issuing_stopped,
// daily_cap_reached) and lib/api.js ("network": the server could not be reached).

export const TEXTS = {
  zh: {
    title: '自助取号',
    subtitle: '请选择要办理的业务，轻触即可取号',
    loading: '正在加载…',
    pickCategory: '请选择业务类别',
    pickService: '请选择办理事项',
    seniorLane: '我已年满60周岁（长者模式：大字、语音、优先）',
    seniorMode: '长者模式（大字、语音）',
    otherPriority: '军人、残疾人、孕妇等优先办理，请点这里',
    goGuide: '请到导办台办理',
    goGuideWhy: '工作人员核验证件后为您取号，谢谢配合。',
    back: '返回',
    done: '完成',
    retry: '重试',
    yourNumber: '您的号码',
    ahead: '您前面还有 {n} 人等候',
    aheadNone: '您前面没有人等候',
    eta: '预计等候约 {m} 分钟',
    scan: '手机扫码查看排队进度',
    previewCaption: '票面',
    printerDown: '打印机暂时无法出票，请记住您的号码',
    foot: '本机不收集任何个人信息 · 过号请到导办台登记',
    promptCategory: '请选择要办理的业务类别。',
    promptService: '请选择办理事项。',
    sayNumber: '您的号码是，',
    sayWatch: '。请在等候区留意叫号。',
  },
  en: {
    title: 'Take a ticket',
    subtitle: 'Choose your service; one touch gives you a ticket',
    loading: 'Loading…',
    pickCategory: 'Choose a category',
    pickService: 'Choose your service',
    seniorLane: 'I am 60 or older (large text, voice, priority)',
    seniorMode: 'Senior mode (large text, voice)',
    otherPriority: 'Military, disability, pregnancy priority: tap here',
    goGuide: 'Please go to the guide desk',
    goGuideWhy: 'Staff check your documents and give you a ticket there.',
    back: 'Back',
    done: 'Done',
    retry: 'Try again',
    yourNumber: 'Your number',
    ahead: '{n} people ahead of you',
    aheadNone: 'No one is ahead of you',
    eta: 'About {m} min wait',
    scan: 'Scan to follow your place in the queue',
    previewCaption: 'Your ticket',
    printerDown: 'The printer cannot print right now. Please remember your number.',
    foot: 'No personal data is collected here · Missed your turn? Ask at the guide desk',
    promptCategory: 'Please choose a category.',
    promptService: 'Please choose your service.',
    sayNumber: 'Your number is ',
    sayWatch: '. Please watch the screens for your call.',
  },
};

const REFUSALS = {
  hall_closed: {
    zh: '当前不在取号时间',
    en: 'Tickets are not issued at this time',
  },
  issuing_stopped: {
    zh: '今日已停止取号',
    en: 'No more tickets today for this service',
  },
  daily_cap_reached: {
    zh: '今日号已取完',
    en: "Today's tickets for this service are all taken",
  },
  network: {
    zh: '暂时连不上服务器，无法取号',
    en: 'The ticket server cannot be reached',
  },
};
const UNREACHABLE_DETAIL = {
  zh: '请稍等片刻后点「重试」，或到导办台人工取号。',
  en: 'Wait a moment and tap "Try again", or ask at the guide desk.',
};
const OTHER = { zh: '取号没有成功', en: 'The ticket could not be issued' };

// {kind, title, detail, retry} for an ApiError: the server's own sentence says why and what to
// do (hours, stop time, cap); an unreachable server gets a retry that reuses the same key.
export function errorText(exc, lang) {
  const unreachable = exc.code === 'network' || exc.status === 503 || exc.status === 0;
  const kind = unreachable ? 'network' : (REFUSALS[exc.code] ? exc.code : 'other');
  const title = (REFUSALS[kind] || OTHER)[lang];
  let detail;
  if (unreachable) detail = UNREACHABLE_DETAIL[lang];
  else detail = lang === 'en' ? exc.messageEn || exc.message : exc.message;
  return { kind, title, detail, retry: unreachable };
}

const DIGITS_ZH = '零一二三四五六七八九';
const DIGITS_EN = ['zero', 'one', 'two', 'three', 'four', 'five', 'six', 'seven', 'eight', 'nine'];

// A number read digit by digit, as the hall's announcements do: A005 → 「A零零五」 / "A zero zero five".
export function speakNumber(number, lang) {
  const parts = [...number].map((ch) => {
    if (ch >= '0' && ch <= '9') return lang === 'en' ? DIGITS_EN[Number(ch)] : DIGITS_ZH[Number(ch)];
    return ch;
  });
  return lang === 'en' ? parts.join(' ') : parts.join('');
}
