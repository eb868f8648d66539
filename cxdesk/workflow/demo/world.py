"""The demo's world: its people, channels, touchpoints, drivers and the words customers use."""

from __future__ import annotations

from datetime import timedelta

DAYS = 60
SMALL_EVENTS = 3300
SMALL_CUSTOMERS = 900
SWEEP_EVERY = timedelta(hours=6)

AGENTS = [
    # login, display name, role, teams, skills
    ("li.na", "李娜 Li Na", "supervisor", ["vip"], ["zh", "en", "phone"]),
    ("zhou.min", "周敏 Zhou Min", "admin", ["care", "vip"], ["zh"]),
    ("zhang.wei", "张伟 Zhang Wei", "agent", ["care"], ["zh", "phone"]),
    ("liu.yang", "刘洋 Liu Yang", "agent", ["care"], ["zh", "wechat"]),
    ("chen.jing", "陈静 Chen Jing", "agent", ["care"], ["zh", "email"]),
    ("yang.lei", "杨磊 Yang Lei", "agent", ["care"], ["zh", "phone", "wechat"]),
    ("emily.wu", "Emily Wu", "agent", ["care"], ["en", "email"]),
    ("huang.min", "黄敏 Huang Min", "agent", ["care"], ["zh", "app"]),
    ("zhao.li", "赵丽 Zhao Li", "agent", ["vip"], ["zh", "phone"]),
    ("sun.hao", "孙浩 Sun Hao", "agent", ["vip"], ["zh", "en"]),
    ("david.chen", "David Chen", "agent", ["vip"], ["en", "phone"]),
    ("xu.qing", "徐青 Xu Qing", "agent", ["vip", "care"], ["zh", "wechat"]),
    ("ma.jun", "马军 Ma Jun", "agent", ["care"], ["zh", "store"]),
]

SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗"
GIVEN = [
    "伟",
    "芳",
    "娜",
    "敏",
    "静",
    "丽",
    "强",
    "磊",
    "洋",
    "艳",
    "勇",
    "军",
    "杰",
    "娟",
    "涛",
    "明",
]
ENGLISH = [
    "Alice Wong",
    "Brian Lee",
    "Cathy Zhang",
    "Daniel Ho",
    "Eva Lin",
    "Frank Liu",
    "Grace Tan",
    "Henry Chow",
    "Ivy Sun",
    "Jack Ma",
    "Kelly Xu",
    "Leo Gao",
]
CHANNELS = ["app", "wechat", "phone", "email", "store", "web"]
TOUCHPOINTS = [
    "delivery",
    "installation",
    "billing",
    "app_login",
    "customer_service",
    "returns",
    "product_quality",
    "store_visit",
]
JOURNEYS = ["purchase", "delivery", "onboarding", "usage", "support", "renewal"]
DRIVERS = {
    "delivery": ["late_delivery", "damaged_package"],
    "installation": ["installer_no_show", "installation_quality"],
    "billing": ["price_dispute", "double_charge", "refund_delay"],
    "app_login": ["login_failure", "app_crash"],
    "customer_service": ["long_wait", "unhelpful_agent"],
    "returns": ["refund_delay", "return_rejected"],
    "product_quality": ["defect", "not_as_described"],
    "store_visit": ["long_wait", "staff_attitude"],
}
BAD_COMMENTS = [
    "快递晚了三天，没有任何通知。",
    "安装师傅没有按约定时间上门。",
    "账单多扣了一次费用，请尽快处理！",
    "App 登录一直失败，无法使用。",
    "客服电话等了四十分钟。",
    "退款申请两周了还没到账。",
    "产品到手就有划痕，和描述不符。",
    "门店工作人员态度很差。",
    "系统故障，订单提交不了。",
    "The parcel arrived late and the box was crushed.",
    "I was charged twice this month.",
    "Your app is down again, I cannot log in.",
    "Waited 40 minutes on the phone, nobody helped.",
    "Refund still not received after two weeks.",
    "The installer never showed up.",
    "Product stopped working after three days. Outage at the worst time.",
]
GOOD_COMMENTS = [
    "配送很快，包装完好。",
    "客服小姐姐很耐心，问题当场解决。",
    "安装师傅很专业，点赞！",
    "App 用起来很顺手。",
    "Fast delivery, great packaging.",
    "Support sorted it out in minutes, thanks!",
    "Love the new app update.",
    "Smooth installation, friendly staff.",
    "",
    "",
]
RESPONSES = [
    "您好，非常抱歉给您带来不便，我们已收到您的反馈，正在核实处理。",
    "Hello, thank you for telling us. I'm looking into this now and will update you today.",
    "您好，已为您加急处理，稍后会有专人联系您。",
]
NOTES = [
    "已联系物流，等待回复。",
    "Checked order history: two charges on the same day.",
    "客户要求周末上门。",
    "Asked the store manager for CCTV footage.",
]
ROOT_CAUSES = {
    "late_delivery": "华东仓爆仓，分拣延迟",
    "damaged_package": "Carrier mishandling at hub",
    "installer_no_show": "排班系统未同步预约",
    "installation_quality": "Installer skipped checklist",
    "price_dispute": "促销价未自动生效",
    "double_charge": "Payment gateway retried a timed-out call",
    "refund_delay": "退款审批卡在财务节点",
    "login_failure": "Token service outage",
    "app_crash": "Release 5.2 crash on older Android",
    "long_wait": "排班不足，高峰期人手短缺",
    "unhelpful_agent": "Knowledge base article outdated",
    "return_rejected": "退货政策解释有误",
    "defect": "供应商批次质量问题",
    "not_as_described": "Listing photos outdated",
    "staff_attitude": "门店培训缺失",
}
PROBLEMS = [
    ("华东配送延迟 Delivery delays in East China", "late_delivery", "aftersales"),
    ("App login failures after release 5.2", "login_failure", "aftersales"),
    ("退款处理慢 Refund processing slow", "refund_delay", "billing"),
]
