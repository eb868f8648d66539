"""The words of the screens, and of the refusals they show, in English and 简体中文.

A Python dict keyed by the English text, not gettext's .po/.mo files: an editable install has
no build step to compile .mo files, the catalogue is small, and a test checks that every text
the screens mark has a translation with the same placeholders. Most of this module is that
catalogue, one entry a text, kept in one place so that a translator reads it whole. No Textual
import here, so the command line can pick the language without loading the UI.

Domain values (stage names, priorities, queue ids, timeline kinds, resolution codes, logins)
are data, shown as stored in either language: they are what the filter (`stage:fix`), the
command line and the audit log speak.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass

LANGUAGES = ("en", "zh")


def N_(text: str) -> str:
    """Marks a text for the catalogue where it is defined; it is translated where shown."""
    return text


@dataclass(frozen=True)
class Message:
    """Text the system writes (a timeline entry, an error's message): an English template and
    its values. It is stored as English, the record the command line, JSON output and exports
    show, and with the template and values beside it, so that a desk can show it in its own
    language."""

    template: str
    values: dict[str, str | int]

    def __str__(self) -> str:
        return self.template.format(**self.values)

    def stored(self) -> list[object]:
        return [self.template, self.values]


def say(template: str, /, **values: str | int) -> Message:
    """`say("claimed by {actor}", actor=login)`: marks the template for the catalogue."""
    return Message(template, values)


def detect_language(environ: Mapping[str, str] = os.environ) -> str:
    """`zh` for a Chinese locale (zh_CN.UTF-8, zh_TW, zh), else `en`; POSIX order of precedence:
    LC_ALL, then LC_MESSAGES, then LANG."""
    for name in ("LC_ALL", "LC_MESSAGES", "LANG"):
        value = environ.get(name, "")
        if value:
            return "zh" if value.lower().startswith("zh") else "en"
    return "en"


@dataclass(frozen=True)
class Translator:
    """`t("{n} open", n=3)`: the text in the chosen language, placeholders filled."""

    lang: str = "en"

    def __post_init__(self) -> None:
        if self.lang not in LANGUAGES:
            raise ValueError(f"unknown language {self.lang!r}; choose one of {LANGUAGES}")

    def __call__(self, text: str, /, **values: object) -> str:
        template = ZH.get(text, text) if self.lang == "zh" else text
        return template.format(**values) if values else template

    def said(self, said: object) -> str | None:
        """Stored system text in this language, from what `Message.stored` kept beside it;
        None where the stored English is what to show (an English desk, agent or customer
        text, an unknown template). Only a template of the catalogue is used as a format: it
        is read back from the database, and a format string must not come from there."""
        if self.lang == "en" or not isinstance(said, list) or len(said) != 2:
            return None
        template, values = said
        if template not in ZH or not isinstance(values, dict):
            return None
        try:
            return ZH[template].format(**values)
        except (KeyError, IndexError, ValueError):
            return None

    def error(self, exc: BaseException) -> str:
        """An error's message in this language: the catalogue's text for what it was raised
        with (`say`), its values as they are; else its English, `str(exc)`."""
        said = getattr(exc, "said", None)
        translated = self.said(said.stored()) if isinstance(said, Message) else None
        return translated or str(exc)


ZH: dict[str, str] = {
    # the app, the help overlay, the command palette
    "Quit": "退出",
    "Keys": "按键",
    "palette": "命令面板",
    "Close": "关闭",
    "Keys — {screen}": "按键 — {screen}",
    "escape to close": "esc 关闭",
    "queue": "队列",
    "ticket": "工单",
    "dashboard": "看板",
    "key {key}": "按键 {key}",
    "Search for commands…": "搜索命令…",
    "Light or dark theme": "浅色/深色主题",
    "Switch between the light and the dark theme": "在浅色和深色主题之间切换",
    "SLA at risk": "SLA 即将超时",
    "SLA breached": "SLA 已超时",
    "Escalated to you": "已升级给你",
    # notifications: the badge, the summary toast, the inbox
    "Inbox": "收件箱",
    "inbox": "收件箱",
    "Mark all read": "全部标为已读",
    "when": "时间",
    "what": "内容",
    "{count} unread — i": "{count} 条未读 — i",
    "{count} unread notifications — i opens the inbox": "{count} 条未读通知 — 按 i 打开收件箱",
    "{count} new notifications — i opens the inbox": "{count} 条新通知 — 按 i 打开收件箱",
    "Inbox · {unread} unread": "收件箱 · {unread} 条未读",
    "the newest {count} shown": "显示最近 {count} 条",
    "could not load the inbox: {error}": "无法加载收件箱：{error}",
    "could not mark read: {error}": "无法标为已读：{error}",
    # bulk work in the queue
    "Mark": "标记",
    "Mark page": "标记本页",
    "Bulk action": "批量操作",
    "Apply to {count} marked tickets": "应用到 {count} 张已标记工单",
    "enter applies · esc cancels": "enter 应用 · esc 取消",
    "{action}: {done} done, {refused} refused": "{action}：完成 {done}，拒绝 {refused}",
    "every ticket done": "全部工单已完成",
    "mark tickets with space first (* marks the page)": "请先用空格标记工单（* 标记本页）",
    "your role gives no bulk actions": "你的角色没有可用的批量操作",
    "{action} {count} marked tickets": "{action} {count} 张已标记工单",
    "bulk action failed: {error}": "批量操作失败：{error}",
    "{count} marked — b acts on them": "已标记 {count} — 按 b 批量操作",
    "the newest {shown} of {total}": "最近 {shown} 条（共 {total} 条）",
    # the report screen
    "Reports": "报表",
    "reports": "报表",
    "Closed loop": "闭环",
    "NPS / CSAT": "NPS / CSAT",
    "Drivers": "驱动要素",
    "Backlog": "积压",
    "Period": "时段",
    "period": "时段",
    "could not load the report: {error}": "无法加载报表：{error}",
    "last {days} days": "最近 {days} 天",
    "all time": "全部时间",
    "Scope": "范围",
    "scope": "范围",
    "my queues": "我的队列",
    # saved views
    "Saved view": "已存视图",
    "saved view": "已存视图",
    "View: {name}": "视图：{name}",
    "View name": "视图名称",
    "Save the filter as a view: {words}": "将筛选存为视图：{words}",
    "type a filter first, then ctrl+s saves it": "先输入筛选条件，再按 ctrl+s 保存",
    "could not load the saved views: {error}": "无法加载已存视图：{error}",
    "could not save the view: {error}": "无法保存视图：{error}",
    "a view's name is 1 to {most} characters of plain text": "视图名称须为 1 到 {most} 个普通字符",
    "a view's filter is 1 to {most} characters": "视图的筛选条件须为 1 到 {most} 个字符",
    "views.{name}.filter: {error}": "视图 views.{name}.filter：{error}",
    # the SLA panel
    "SLA clocks": "SLA 时钟",
    "SLA clocks — {ticket}": "SLA 时钟 — {ticket}",
    "First response clock": "首次响应时钟",
    "Resolution clock": "解决时钟",
    "counted": "计时",
    "outside hours": "非工作时间",
    "weekend": "周末",
    "public holiday": "法定节假日",
    "make-up workday": "调休工作日",
    "paused": "已暂停",
    "restarted": "重新计时",
    "not itemised": "未逐段列出",
    "running": "计时中",
    "met": "达标",
    "missed": "未达标",
    "stopped": "已停止",
    "due": "到期",
    "risk noted": "已提示临期",
    "escalated": "已升级处理",
    "from": "起",
    "to": "止",
    "kind": "类别",
    "total": "累计",
    "note": "说明",
    "{priority} · policy {policy} · calendar {calendar} · target {target}": (
        "{priority} · 策略 {policy} · 日历 {calendar} · 目标 {target}"
    ),
    "{state} · counted {counted} · given back {given} · at risk {risk} · due {due}": (
        "{state} · 已计 {counted} · 暂停返还 {given} · 临期 {risk} · 到期 {due}"
    ),
    "its history replayed gives due {due}": "按历史重放得出的到期时间为 {due}",
    "Its problem is resolved": "其问题单已解决",
    "Open a problem": "创建问题单",
    "Open a problem for a driver; its open cases are linked": (
        "针对驱动要素创建问题单；其未结个案将被关联"
    ),
    "type to narrow the drivers": "输入以筛选驱动要素",
    "{count} open cases": "{count} 个未结个案",
    "no open case has a driver yet": "尚无未结个案标注驱动要素",
    "{ticket} opened for driver {driver}: {count} cases linked": (
        "已针对驱动要素 {driver} 创建 {ticket}：关联了 {count} 个个案"
    ),
    "{ticket}: {case} {outcome}": "{ticket}：个案 {case} {outcome}",
    "no linked cases": "没有关联的个案",
    # the queue
    "Mine": "我的",
    "Unassigned": "未分配",
    "At risk": "即将超时",
    "Breached": "已超时",
    "Escalated": "已升级",
    "Verifying": "待验证",
    "All": "全部",
    "Views": "视图",
    "Open": "打开",
    "Next page": "下一页",
    "Previous page": "上一页",
    "Refresh": "刷新",
    "Filter": "筛选",
    "Dashboard": "看板",
    "Sort": "排序",
    "ID": "编号",
    "Pri": "优先级",
    "Stage": "阶段",
    "Queue": "队列",
    "Assignee": "处理人",
    "Customer": "客户",
    "SLA": "SLA",
    "Age": "时长",
    "Title": "标题",
    "loading…": "加载中…",
    "filter: words (any language), priority:P1 queue:vip stage:new assignee:login "
    "customer:ID (opens the customer too) — enter applies, esc clears": (
        "筛选：关键词（任意语言）、priority:P1 queue:vip stage:new assignee:登录名 "
        "customer:客户ID（同时打开该客户）—— 回车应用，esc 清除"
    ),
    "could not load tickets: {error}": "无法加载工单：{error}",
    "could not claim the next case: {error}": "无法领取下一个工单：{error}",
    "{ticket} claimed": "已领取 {ticket}",
    "could not open the form: {error}": "无法打开表单：{error}",
    "{ticket}: {action} failed: {error}": "{ticket}：{action}失败：{error}",
    "could not load the dashboard: {error}": "无法加载看板：{error}",
    "by {order}": "按{order}排序",
    "priority": "优先级",
    "age": "创建时间",
    "filter: {words}": "筛选：{words}",
    "{first}–{last} of {total}": "第 {first}–{last} 条，共 {total} 条",
    "no tickets in this view": "此视图没有工单",
    "BREACHED {time}": "超时 {time}",
    # a ticket
    "Back": "返回",
    "Claim": "认领",
    "Claim next": "认领下一单",
    "Assign": "分配",
    "Respond": "回复客户",
    "Note": "备注",
    "Pend/resume": "挂起/恢复",
    "Pend": "挂起",
    "Resume": "恢复",
    "Analyze": "分析",
    "Resolve": "解决",
    "Escalate": "升级",
    "Reopen": "重开",
    "Link problem": "关联问题单",
    "Unlink problem": "取消关联问题单",
    "Apply to cases": "应用到个案",
    "De-escalate": "降级",
    "Close problem": "关闭问题单",
    "Merge": "合并",
    "{ticket} · loading…": "{ticket} · 加载中…",
    "Timeline": "时间线",
    "Resolution": "处理结果",
    "{action} {ticket}": "{action} {ticket}",
    "{ticket}: {action} done": "{ticket}：已{action}",
    "{kind} in {queue}": "{kind} · 队列 {queue}",
    "assignee {assignee}  escalation {level}": "处理人 {assignee}  升级级别 {level}",
    "opened {time}": "创建于 {time}",
    "first response due {due} (answered {at})": "首次响应截止 {due}（已响应 {at}）",
    "resolution due {due}": "解决截止 {due}",
    "id": "编号",
    "name": "姓名",
    "tier": "等级",
    "phone": "电话",
    "email": "邮箱",
    "feedback": "反馈",
    "tickets": "工单",
    "cases": "个案",
    "problem": "问题单",
    "no customer (problem ticket)": "无客户（问题单）",
    "code": "解决代码",
    "root cause": "根因",
    "driver": "驱动要素",
    "action taken": "采取措施",
    "customer remedy": "客户补偿",
    "verify": "回访结果",
    "reopened": "重开次数",
    # the forms
    "Save": "保存",
    "Cancel": "取消",
    "ctrl+s save · esc cancel": "ctrl+s 保存 · esc 取消",
    "{label} (optional)": "{label}（可选）",
    "required: {fields}": "必填：{fields}",
    "Select": "选择",
    "type a name or login to narrow the list": "输入姓名或登录名筛选",
    "no match": "无匹配",
    "{open} open · load {load}": "未结 {open} · 负载 {load}",
    "away": "暂离",
    "you": "你",
    "Agent": "客服",
    "Reason": "原因",
    "Text (or leave it empty and pick a template)": "内容（或留空并选择模板）",
    "Template": "模板",
    "Root cause": "根因",
    "Driver": "驱动要素",
    "Touchpoint": "触点",
    "Resolution code": "解决代码",
    "Action taken": "采取措施",
    "Customer remedy": "客户补偿",
    "Problem ticket (CX-…)": "问题单（CX-…）",
    "Into case (CX-…)": "合并到工单（CX-…）",
    "Evidence": "验证依据",
    "Text": "内容",
    "Next": "下一个",
    "Previous": "上一个",
    "Page down": "下一屏",
    "Page up": "上一屏",
    # the dashboard
    "SLA by queue": "各队列 SLA",
    "Agent load": "客服负载",
    "Problems and metric alerts": "问题单与指标预警",
    "none": "无",
    "open": "未结",
    "ok": "正常",
    "at risk": "临期",
    "breached": "超时",
    "no clock": "停表",
    "agent": "客服",
    "load": "负载",
    "pri": "优先级",
    "overdue": "超时",
    "assignee": "处理人",
    "title": "标题",
    "stage": "阶段",
    "NPS": "NPS",
    "CSAT %": "CSAT %",
    "Closed-loop %": "闭环率 %",
    "no figures yet": "暂无数据",
    # a customer's story
    "customer": "客户",
    "{customer} · loading…": "{customer} · 加载中…",
    "tier {tier}": "等级 {tier}",
    "phone {phone}": "电话 {phone}",
    "email {email}": "邮箱 {email}",
    "NPS and CSAT": "NPS 与 CSAT",
    "NPS (0–10, left)": "NPS（0–10，左轴）",
    "CSAT (1–5, right)": "CSAT（1–5，右轴）",
    "no scores yet": "暂无评分",
    "Tickets ({count})": "工单（{count}）",
    "Feedback ({count})": "反馈（{count}）",
    "outcome": "结果",
    "opened": "创建时间",
    "reopened {count}×": "重开 {count} 次",
    "none in your queues": "你的队列中没有",
    "{label}  latest {latest}": "{label}  最新 {latest}",
    # Textual's own keys and commands, as the help overlay and the palette show them
    "Up": "上移",
    "Down": "下移",
    "First": "第一行",
    "Last": "最后一行",
    "Cursor up": "光标上移",
    "Cursor down": "光标下移",
    "Cursor left": "光标左移",
    "Cursor right": "光标右移",
    "Home": "开头",
    "End": "末尾",
    "Page Up": "上一屏",
    "Page Down": "下一屏",
    "Page Left": "向左翻屏",
    "Page Right": "向右翻屏",
    "Top": "顶部",
    "Bottom": "底部",
    "Focus Next": "下一个控件",
    "Focus Previous": "上一个控件",
    "Copy selected text": "复制所选文本",
    "Scroll Up": "向上滚动",
    "Scroll Down": "向下滚动",
    "Scroll Left": "向左滚动",
    "Scroll Right": "向右滚动",
    "Scroll Home": "滚到顶部",
    "Scroll End": "滚到底部",
    "Theme": "主题",
    "Change the current theme": "更换当前主题",
    "Screenshot": "截图",
    "Save an SVG 'screenshot' of the current screen": "将当前屏幕保存为 SVG 截图",
    "Maximize": "最大化",
    "Maximize the focused widget": "最大化当前控件",
    "Minimize": "还原",
    "Minimize the widget and restore to normal size": "将控件还原为正常大小",
    # system text in the timeline (`say` in cxdesk/workflow), stored in English
    "opened in {queue} as {priority} by rule {rule}": (
        "由规则 {rule} 在 {queue} 开启，优先级 {priority}"
    ),
    "opened in {queue} as {priority}": "在 {queue} 开启，优先级 {priority}",
    "alert {rule} ({priority}); priority {before} → {priority}": (
        "告警 {rule}（{priority}）；优先级 {before} → {priority}"
    ),
    "alert {rule} ({priority})": "告警 {rule}（{priority}）",
    "assigned to {assignee} ({mode})": "分配给 {assignee}（{mode}）",
    "new alert while verifying: reopened": "验证期间出现新告警：已重新打开",
    "claimed by {actor}": "由 {actor} 认领",
    "assigned to {login} (was {previous})": "分配给 {login}（原为 {previous}）",
    "assigned to {login}": "分配给 {login}",
    "pending: {reason}": "挂起：{reason}",
    "root cause ({driver}): {root_cause}": "根因（{driver}）：{root_cause}",
    "resolved ({code}): {action}": "已解决（{code}）：{action}",
    "escalated to level {level} ({target}): {reason}": "升级到 {level} 级（{target}）：{reason}",
    "de-escalated to level {level}: {reason}": "降到 {level} 级：{reason}",
    "merged into {ref}": "已合并到 {ref}",
    "merged {ref} into this case": "已将 {ref} 合并到本工单",
    "follow-up answered {score} while {stage}": "回访答复 {score}（当时处于 {stage}）",
    "follow-up answered {score}: verified": "回访答复 {score}：已验证",
    "follow-up answered {score}: reopened; priority {priority}, escalation level {level}": (
        "回访答复 {score}：已重新打开；优先级 {priority}，升级级别 {level}"
    ),
    "no follow-up answer in the verify window: closed unverified": (
        "验证期内未收到回访答复：未验证即关闭"
    ),
    "reopened: {reason}": "已重新打开：{reason}",
    "first response SLA at risk: due {due}": "首次响应 SLA 即将超时：截止 {due}",
    "resolution SLA at risk: due {due}": "解决 SLA 即将超时：截止 {due}",
    "first response SLA breached; already at escalation level {level}": (
        "首次响应 SLA 已超时；已处于 {level} 级升级"
    ),
    "resolution SLA breached; already at escalation level {level}": (
        "解决 SLA 已超时；已处于 {level} 级升级"
    ),
    "first response SLA breached: escalated to level {level} ({target})": (
        "首次响应 SLA 已超时：升级到 {level} 级（{target}）"
    ),
    "resolution SLA breached: escalated to level {level} ({target})": (
        "解决 SLA 已超时：升级到 {level} 级（{target}）"
    ),
    "linked to problem {ref}": "已关联到问题单 {ref}",
    "closed, verified: {evidence}": "已关闭，已验证：{evidence}",
    "linked {count} cases of its scope: {cases}": "已关联其范围内的 {count} 个个案：{cases}",
    "unlinked from problem {ref}": "已取消与问题单 {ref} 的关联",
    "unlinked {case}": "已取消关联 {case}",
    "opened by {login} for {dimension} {value}: {metric} {figure} ({answers} answers)": (
        "由 {login} 针对 {dimension} {value} 创建：{metric} {figure}（{answers} 份答复）"
    ),
    "verifying by {metric} until {until}": "按 {metric} 验证，直至 {until}",
    "problem {ref} resolved ({code}): {action}": "问题单 {ref} 已解决（{code}）：{action}",
    "verified by {metric}: {before} → {after} ({answers} answers; threshold {threshold}); closed": (
        "经 {metric} 验证：{before} → {after}（{answers} 份答复；阈值 {threshold}）；已关闭"
    ),
    "not verified by {metric}: {before} → {after} ({answers} answers; threshold "
    "{threshold}); closed unverified": (
        "未能经 {metric} 验证：{before} → {after}（{answers} 份答复；阈值 {threshold}）；"
        "未验证即关闭"
    ),
    "{metric} did not recover: {before} → {after} ({answers} answers; threshold "
    "{threshold}); reopened, escalation level {level}": (
        "{metric} 未恢复：{before} → {after}（{answers} 份答复；阈值 {threshold}）；"
        "已重新打开，升级级别 {level}"
    ),
    "resolution applied to its cases: {resolved} resolved, {skipped} skipped, {refused} refused": (
        "解决方案已应用到其个案：{resolved} 个已解决，{skipped} 个跳过，{refused} 个被拒绝"
    ),
    "already {stage}": "已处于 {stage}",
    # refusals (`say` where cxdesk/workflow raises), shown by a desk; the CLI prints the English
    "no ticket {ref}": "没有工单 {ref}",
    "no customer {id}": "没有客户 {id}",
    "no queue {queue}": "没有队列 {queue}",
    "no active agent with login {login}": "没有登录名为 {login} 的在职客服",
    "no template {name} (see `cxdesk template list`)": (
        "没有模板 {name}（见 `cxdesk template list`）"
    ),
    "not a ticket id: {text} (expected something like CX-000123)": (
        "不是工单编号：{text}（应形如 CX-000123）"
    ),
    "unknown filter {key}; use {known}, or plain words": (
        "未知筛选项 {key}；请用 {known}，或直接输入关键词"
    ),
    "cannot {command} {ref}: it is {stage}; {command} is allowed in: {allowed}": (
        "无法对 {ref} 执行 {command}：它处于 {stage}；{command} 仅适用于：{allowed}"
    ),
    "{ref} is at an unknown stage {stage}": "{ref} 处于无法识别的阶段 {stage}",
    "{ref} was paused from {stage}, which never pends; it cannot resume": (
        "{ref} 挂起前处于 {stage}，该阶段不能挂起；无法恢复"
    ),
    "{ref} is in a queue that no longer exists: {queue}": "{ref} 所在的队列已不存在：{queue}",
    "{ref} has an unknown priority {priority}": "{ref} 的优先级 {priority} 无法识别",
    "{ref} was changed by {name} at {when} — reload": (
        "{ref} 已于 {when} 被 {name} 修改 —— 请重新加载"
    ),
    "{what} is required": "{what} 为必填项",
    "{what} is {length} characters long; at most {limit}": (
        "{what}长 {length} 个字符，最多 {limit} 个"
    ),
    "{login} ({role}) may not {command}; only automation may": (
        "{login}（{role}）无权执行 {command}；仅限自动化"
    ),
    "{login} ({role}) may not {command}; only supervisors and admins may": (
        "{login}（{role}）无权执行 {command}；仅限主管和管理员"
    ),
    "{ref} belongs to team {team}, outside {login}'s teams ({teams})": (
        "{ref} 属于团队 {team}，不在 {login} 的团队（{teams}）之内"
    ),
    "{login} ({role}) may not {what}; only admins may": (
        "{login}（{role}）无权执行 {what}；仅限管理员"
    ),
    "{login} is the system's own name; no one acts as it": (
        "{login} 是系统自身的名字，任何人都不能以它的身份操作"
    ),
    "--as is only honoured for admins or on a demo database": "--as 仅对管理员或演示数据库有效",
    "{login} ({role}) may not {what}; only the ingest roles may (`ingest_roles` in the config)": (
        "{login}（{role}）无权执行 {what}；仅限导入角色（配置中的 `ingest_roles`）"
    ),
    "claim-next takes a ticket for an agent, not for automation": (
        "claim-next 为客服领取工单，不适用于自动化"
    ),
    "nothing to claim: no unassigned open case in queue {queue}": (
        "无可认领：队列 {queue} 中没有未分配的未结个案"
    ),
    "nothing to claim: no unassigned open case in the queues you work": (
        "无可认领：你负责的队列中没有未分配的未结个案"
    ),
    "nothing to claim: no unassigned open case in the queues you work ({queues})": (
        "无可认领：你负责的队列（{queues}）中没有未分配的未结个案"
    ),
    "{ref} is already yours": "{ref} 已由你处理",
    "{ref} is already assigned to {login}": "{ref} 已分配给 {login}",
    "{login} is not in team {team}, which owns {queue}": (
        "{login} 不在负责队列 {queue} 的团队 {team} 中"
    ),
    "resolution code {code} is not one of {codes}": "解决代码 {code} 无效，可选：{codes}",
    "{ref} is already at the top of the ladder": "{ref} 已处于最高升级级别",
    "{ref} is not escalated": "{ref} 未升级",
    "{ref} is not a problem ticket": "{ref} 不是问题单",
    "{case} is not linked to {ref}": "{case} 未关联到 {ref}",
    "a problem is opened by hand for a driver or a touchpoint, not {dimension}": (
        "手动创建问题单只能针对驱动因素或触点，不能针对 {dimension}"
    ),
    "unknown priority {priority}": "未知优先级 {priority}",
    "{ref} already watches {dimension} {value}": "{ref} 已在跟踪 {dimension} {value}",
    "{ref} has no verification due": "{ref} 没有到期的验证",
    "{ref} has no resolution to apply; resolve it first": "{ref} 没有可应用的解决方案；请先解决它",
    "{ref} is closed; link to a problem that is still open": (
        "{ref} 已关闭；请关联仍未关闭的问题单"
    ),
    "{ref} is not a case; only cases link": "{ref} 不是个案；只有个案可以关联问题单",
    "{ref} is a case; cases close by follow-up verification": (
        "{ref} 是个案；个案经回访验证后关闭"
    ),
    "a ticket cannot be merged into itself": "工单不能合并到自身",
    "only two cases can be merged": "只有两个个案之间可以合并",
    "{ref} and {into} are worked by different teams; only cases of one team merge": (
        "{ref} 和 {into} 由不同团队处理；只有同一团队的个案可以合并"
    ),
    "{ref} and {into} belong to different customers; only cases of one customer merge": (
        "{ref} 和 {into} 属于不同客户；只有同一客户的个案可以合并"
    ),
    "{ref} is closed; merge into an open case": "{ref} 已关闭；请合并到未结个案",
    "unknown placeholder {placeholder}; known: {known}": (
        "未知占位符 {placeholder}；可用：{known}"
    ),
    "template name {name}: use up to 64 letters, digits, . _ -": (
        "模板名 {name}：最多 64 个字母、数字或 . _ -"
    ),
    "template body is required": "模板内容为必填项",
    "{login} ({role}) may not edit templates; supervisors and admins may": (
        "{login}（{role}）无权编辑模板；主管和管理员可以"
    ),
    "{login} ({role}) may not export follow-ups; supervisors and admins may": (
        "{login}（{role}）无权导出回访；主管和管理员可以"
    ),
    # webhook deliveries: why one failed, why an endpoint was not sent to
    "HTTP {status}: redirected to {where}; redirects are not followed": (
        "HTTP {status}：重定向到 {where}；不跟随重定向"
    ),
    "HTTP {status}: {answer}": "HTTP {status}：对方应答 {answer}",
    "no answer within {seconds} s": "{seconds} 秒内无应答",
    "could not send: {reason}": "无法发送：{reason}",
    "the environment variable {name} holds no secret of {least} characters": (
        "环境变量 {name} 中没有至少 {least} 个字符的密钥"
    ),
    "{login} ({role}) may not list follow-ups; supervisors and admins may": (
        "{login}（{role}）无权查看回访列表；主管和管理员可以"
    ),
    "no follow-up status {status}; known: {known}": "没有回访状态 {status}；可用：{known}",
    "follow-up survey sent (attempt {attempt})": "回访问卷已发送（第 {attempt} 次尝试）",
    "follow-up survey not sent after {attempts} attempts: {error}": (
        "回访问卷经 {attempts} 次尝试仍未发出：{error}"
    ),
    "follow-up survey not sent: the customer had one for {ref} at {sent}, within {days} days": (
        "回访问卷未发送：该客户已于 {sent} 收到 {ref} 的回访，在 {days} 天之内"
    ),
    "interrupted: the sweep sending it stopped before it could record the outcome": (
        "已中断：发送它的巡检在记录结果之前停止了"
    ),
    "cannot run {program}: {error}": "无法运行 {program}：{error}",
    "no answer from {program} within {seconds} s": "{program} 在 {seconds} 秒内没有结束",
    "killed by signal {signal}": "被信号 {signal} 终止",
    "exit status {status}": "退出状态 {status}",
    # cxdesk serve: refusals of a request
    "the bearer token is not one this server knows": "该 bearer 令牌不是本服务器所知的令牌",
    "a bearer token is required: Authorization: Bearer TOKEN": (
        "需要 bearer 令牌：Authorization: Bearer TOKEN"
    ),
    "the token's agent {login} is not an active cxdesk agent": (
        "令牌对应的客服 {login} 不是在职的 cxdesk 客服"
    ),
    "{login} ({role}) may not read tickets; only staff may": (
        "{login}（{role}）无权读取工单；仅限客服人员"
    ),
    "the body is over the limit of {limit} bytes (serve.max_body)": (
        "请求体超过 {limit} 字节的上限（serve.max_body）"
    ),
    "Content-Length is not a number": "Content-Length 不是数字",
    "the client left before the body ended": "客户端在请求体结束前断开",
    "the body did not arrive within {seconds} s": "请求体未在 {seconds} 秒内到齐",
    "the server holds as many request bodies as it may ({capacity} bytes, serve.body_memory); "
    "try again in {seconds} s": (
        "服务器已持有其允许的全部请求体（{capacity} 字节，serve.body_memory）；"
        "请在 {seconds} 秒后重试"
    ),
    "the server is stopping; nothing of this request was stored, send it again": (
        "服务器正在停止；本次请求的内容均未存储，请重新发送"
    ),
    "the server stopped before this request was written": "服务器在写入本次请求之前已停止",
    "over this token's rate of {rate} requests a second (serve.rate, serve.burst); try again "
    "in {seconds} s": (
        "超过该令牌每秒 {rate} 个请求的速率（serve.rate、serve.burst）；请在 {seconds} 秒后重试"
    ),
    "over this address's rate of {rate} follow-up answers a second (serve.reply_rate, "
    "serve.reply_burst); try again in {seconds} s": (
        "超过该地址每秒 {rate} 个回访回答的速率（serve.reply_rate、serve.reply_burst）；"
        "请在 {seconds} 秒后重试"
    ),
    "too many links naming no survey from this address (serve.reply_misses an hour); try "
    "again in {seconds} s": (
        "该地址尝试了太多不对应任何问卷的链接（serve.reply_misses，每小时）；"
        "请在 {seconds} 秒后重试"
    ),
    "this survey's link was tried too often (serve.reply_token_attempts an hour); try again "
    "in {seconds} s": (
        "该问卷链接尝试次数过多（serve.reply_token_attempts，每小时）；请在 {seconds} 秒后重试"
    ),
    "Content-Type {given} is not taken: send {json} (an event or an array of them) or {lines} "
    "(JSON Lines)": (
        "不接受 Content-Type {given}：请发送 {json}（一个事件或事件数组）或 {lines}（JSON Lines）"
    ),
    "charset {charset} is not taken: send UTF-8": "不接受字符集 {charset}：请使用 UTF-8",
    "more than {limit} records; a request may carry {limit} (serve.max_records)": (
        "记录超过 {limit} 条；每个请求最多 {limit} 条（serve.max_records）"
    ),
    "the body holds no event": "请求体中没有事件",
    "the body is not JSON: {error}": "请求体不是 JSON：{error}",
    "the body is a JSON {kind}; send an event object or an array of them": (
        "请求体是 JSON {kind}；请发送一个事件对象或事件数组"
    ),
    "{method} is not allowed on {path}": "{path} 不允许 {method}",
    "no endpoint {method} {path}": "没有端点 {method} {path}",
    "internal error; the server's log has the details": "内部错误；详情见服务器日志",
    # follow-up answers by their reply token
    "no follow-up survey has this token": "没有与此令牌对应的回访问卷",
    "the follow-up survey of {ref} has expired": "{ref} 的回访问卷已过期",
    "the answer is not taken: {reason}": "回答未被接受：{reason}",
    "the answer must be a JSON object": "回答必须是一个 JSON 对象",
    "the body is not a URL-encoded UTF-8 form": "请求体不是 UTF-8 的 URL 编码表单",
    "Content-Type {given} is not taken: send {json} or {form}": (
        "不接受 Content-Type {given}：请发送 {json} 或 {form}"
    ),
    "an answer has no field {field}; it may give {known}": "回答没有字段 {field}；可填：{known}",
}


def english(text: str) -> str:
    """The English of a translated text (the text itself when it is English or unknown)."""
    return _ENGLISH.get(text, text)


_ENGLISH = {translated: key for key, translated in ZH.items()}
